// poolifier wants a ThreadWorker instance as the module's default export.
import { ThreadWorker } from 'poolifier';
import { inc } from './tasks.mjs';

export default new ThreadWorker(inc);
