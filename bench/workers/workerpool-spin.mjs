// workerpool registers named methods; the pool calls pool.exec('job', [x]).
import workerpool from 'workerpool';
import { spinTask } from './app-tasks.mjs';

workerpool.worker({ job: spinTask });
