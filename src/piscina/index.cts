/**
 * iocp-pool/piscina for require(): the class itself, as `require('piscina')` returns it — its
 * statics carry the rest (`Piscina.Piscina`, `.move`, `.isWorkerThread`, `.workerData`…).
 */
import { Piscina } from './piscina.js';

export = Piscina;
