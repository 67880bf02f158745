// poolifier wants a ThreadWorker instance as the module's default export.
import { ThreadWorker } from 'poolifier';
import { readThenSpin } from './app-tasks.mjs';

export default new ThreadWorker(readThenSpin);
