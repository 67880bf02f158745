// The smoke suite's pool handler: run({ n }) → n + 1; run({ echo }) → echo;
// run({ poke: view }) writes view[1] = view[0] + 1 and returns the view;
// queueRequest(wParam) adds wParam to a shared counter (word 0) and counts the call (word 1).
import { currentPool } from 'iocp-pool';

export default function handler(task) {
  if (typeof task === 'number') {
    const { counter } = currentPool().workerData;
    Atomics.add(counter, 0, task);
    Atomics.add(counter, 1, 1);
    return;
  }
  if (task.poke !== undefined) {
    task.poke[1] = task.poke[0] + 1;
    return task.poke;
  }
  if ('echo' in task) return task.echo;
  return task.n + 1;
}
