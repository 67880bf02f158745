// workerpool registers named methods; the pool calls pool.exec('job', [x]).
import workerpool from 'workerpool';
import { readThenSpin } from './app-tasks.mjs';

workerpool.worker({ job: readThenSpin });
