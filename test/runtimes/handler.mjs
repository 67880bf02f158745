// The smoke suite's pool handler: run({ n }) → n + 1; run({ echo }) → echo;
// run({ poke: view }) writes view[1] = view[0] + 1 and returns the view;
// run({ steps }) reports 1…steps as progress, a timer apart, and returns steps;
// queueRequest(wParam) adds wParam to a shared counter (word 0) and counts the call (word 1).
import { currentPool } from 'iocp-pool';

export default function handler(task, context) {
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
  if ('steps' in task) return steps(task.steps, context.progress);
  return task.n + 1;
}

async function steps(n, progress) {
  for (let i = 1; i <= n; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    progress(i);
  }
  return n;
}
