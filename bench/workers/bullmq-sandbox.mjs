// BullMQ's sandboxed processor file (useWorkerThreads): it receives the job, not its data.
import { work } from './bullmq-job.mjs';

export default async function processor(job) {
  return work(job.data);
}
