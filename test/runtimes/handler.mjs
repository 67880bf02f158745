// The smoke suite's pool handler: run({ n }) → n + 1; queueRequest(wParam)
// adds wParam to a shared counter (word 0) and counts the call (word 1).
import { currentPool } from 'iocp-pool';

export default function handler(task) {
  if (typeof task === 'number') {
    const { counter } = currentPool().workerData;
    Atomics.add(counter, 0, task);
    Atomics.add(counter, 1, 1);
    return;
  }
  return task.n + 1;
}
