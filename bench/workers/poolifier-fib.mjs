// poolifier wants a ThreadWorker instance as the module's default export.
import { ThreadWorker } from 'poolifier';
import { fib } from './tasks.mjs';

export default new ThreadWorker(fib);
