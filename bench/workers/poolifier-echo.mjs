// poolifier wants a ThreadWorker instance as the module's default export.
import { ThreadWorker } from 'poolifier';
import { echo } from './tasks.mjs';

export default new ThreadWorker(echo);
