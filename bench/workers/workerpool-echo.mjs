// workerpool registers named methods; the pool calls pool.exec('job', [x]).
import workerpool from 'workerpool';
import { echo } from './tasks.mjs';

workerpool.worker({ job: echo });
