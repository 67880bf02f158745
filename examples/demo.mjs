// npm start — the pool at work, then the completion port underneath, told as it happens.
//
// Part 1, the pool: a ThreadPool runs the exports of a worker module (demo-tasks.mjs) on its
// threads with pool.run(task).
//   1. CPU work: eight tasks at once spread over the threads, as many running at a time as
//      there are cores.
//   2. Progress: a task reports its steps while it runs; run() settles after the last one.
//   3. The pool's own cost: tiny tasks through pool.run(), then the same tasks through plain
//      worker threads answering postMessage — what a hand-made pool does, and what piscina and
//      the other pools do per task.
//
// Part 2, the port: the main thread creates a completion port with concurrency 2 and starts 4
// worker threads that loop on port.get(), like the ServerWorkerThread of the Winsock echo server
// in the original articles (docs/background.md). Then:
//   1. LIFO: packets posted one at a time all go to the newest waiter, so one
//      thread stays hot and the others stay asleep.
//   2. The cap: 6 packets posted at once; only 2 threads run, 2 stay waiting
//      although packets are queued, and a thread that finishes takes the next
//      packet at once without sleeping.
//   3. Blocking: a handler that sleeps gives its slot back, so a waiting
//      thread is released to run meanwhile.
//   4. Shutdown: one sentinel packet per thread (overlapped = -1), posted after
//      the queued work, then close() — which returns nothing left behind.
import { availableParallelism, loadavg } from 'node:os';
import { isMainThread, parentPort, threadId, Worker, workerData } from 'node:worker_threads';
import { CompletionPort, PortClosedError, ThreadPool } from 'iocp-pool';

const SENTINEL = -1; // CThreadPools' (OVERLAPPED*)-1: "exit now"
const WORK = 1; // completionKey: busy for bytesTransferred ms
const SLEEPY = 2; // completionKey: port.sleep(bytesTransferred ms), a blocking call
const TASKS = new URL('./demo-tasks.mjs', import.meta.url);
const start = performance.now();
const stamp = () => `[${String(Math.round(performance.now() - start)).padStart(5)} ms]`;
const say = (text) => console.log(`${stamp()} main      ${text}`);
const heading = (text) => console.log(`\n── ${text}`);
const count = (n) => n.toLocaleString('en-US');
const rate = (perSecond) => (perSecond >= 1e6 ? `${(perSecond / 1e6).toFixed(2)} M` : `${(perSecond / 1e3).toFixed(1)} k`);

if (isMainThread) {
  console.log('iocp-pool demo — part 1: a ThreadPool running tasks; part 2: the completion port underneath');
  await poolPart();
  await portPart();
  console.log('\ndone. See README.md for the API, docs/ for the guides, examples/ for programs to start from.');
} else if (workerData.role === 'messages') {
  await messagesWorker();
} else {
  portWorker();
}

// ───────────────────────────── part 1: the pool ─────────────────────────────

async function poolPart() {
  const pool = new ThreadPool({ filename: TASKS });
  await pool.ready;
  heading(`Part 1. A ThreadPool: ${pool.threads} threads, at most ${pool.concurrency} running at once (one per core)`);

  heading('1. CPU work: eight tasks at once, spread over the threads');
  say('pool.run(30, { name: "fib" }) eight times, without waiting in between');
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: 8 }, () => pool.run(30, { name: 'fib' })));
  const wall = performance.now() - t0;
  for (const r of results) say(`  fib(${r.n}) = ${r.value}, on thread ${r.threadId}, ${r.ms.toFixed(1)} ms of work`);
  const cpu = results.reduce((sum, r) => sum + r.ms, 0);
  say(`${cpu.toFixed(0)} ms of work done in ${wall.toFixed(0)} ms: ${(cpu / wall).toFixed(1)} tasks ran at a time on average`);
  say(`(the port lets ${pool.concurrency} run at once; the other threads are there to run while one blocks)`);

  heading('2. Progress: a task reports its steps while it runs');
  const steps = await pool.run({ count: 3, ms: 150 }, { name: 'steps', onProgress: (i) => say(`  progress: step ${i} of 3`) });
  say(`run() resolved with ${steps}, after the last step arrived`);

  heading("3. The pool's own cost: tiny tasks (x → x + 1), 64 in flight at a time");
  const n = 50_000;
  const messages = messageWorkers(pool.threads);
  // Warm both up first (threads started, code compiled), then time them one after the other.
  await keepFull(pool.run.bind(pool), 2_000);
  await keepFull(messages.run, 2_000);
  const poolMs = await keepFull(pool.run.bind(pool), n);
  say(`pool.run():          ${count(n)} tasks in ${poolMs.toFixed(0).padStart(4)} ms — ${rate((n / poolMs) * 1000)} tasks/s`);
  const messagesMs = await keepFull(messages.run, n);
  say(`postMessage workers: ${count(n)} tasks in ${messagesMs.toFixed(0).padStart(4)} ms — ${rate((n / messagesMs) * 1000)} tasks/s`);
  const load = `load average ${loadavg()[0].toFixed(1)} on ${availableParallelism()} cores`;
  if (messagesMs > poolMs) {
    say(`the pool did them ${(messagesMs / poolMs).toFixed(1)}× as fast: its tasks and results go through shared memory,`);
    say(`not through a message per task. (One run, ${load}; npm run bench measures properly.)`);
  } else {
    say(`plain messages kept up this time (${load}): on a busy machine a thread that waits for work`);
    say('loses its core to other processes, and the hand-off costs what a wake-up costs. npm run bench measures properly.');
  }
  await messages.close();
  await pool.close();
  say('pool.close(): everything queued completed, every thread exited');
}

/** Runs n tiny tasks through run(x), 64 in flight at a time; checks every result; resolves with the ms taken. */
function keepFull(run, n) {
  const t0 = performance.now();
  let sent = 0;
  let done = 0;
  return new Promise((resolve, reject) => {
    const next = () => {
      if (done === n) return resolve(performance.now() - t0);
      if (sent === n) return;
      const x = sent++;
      run(x).then((value) => {
        if (value !== x + 1) return reject(new Error(`task ${x} answered ${value}`));
        done++;
        next();
      }, reject);
    };
    for (let i = 0; i < 64 && i < n; i++) next();
  });
}

/** Plain worker threads that run the same module's tasks, one postMessage each way per task, round-robin. */
function messageWorkers(threads) {
  const workers = Array.from({ length: threads }, () => new Worker(new URL(import.meta.url), { workerData: { role: 'messages' } }));
  const pending = new Map();
  let nextId = 0;
  for (const worker of workers) {
    worker.on('message', ({ id, value }) => {
      pending.get(id)(value);
      pending.delete(id);
    });
  }
  return {
    run: (x) =>
      new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        workers[id % workers.length].postMessage({ id, x });
      }),
    close: () => Promise.all(workers.map((worker) => worker.terminate())),
  };
}

/** A postMessage worker: the module's default handler for every message. */
async function messagesWorker() {
  const { default: handler } = await import(TASKS);
  parentPort.on('message', ({ id, x }) => parentPort.postMessage({ id, value: handler(x) }));
}

// ───────────────────────────── part 2: the port ─────────────────────────────

function portWorker() {
  const port = CompletionPort.from(workerData.handle);
  const name = `worker ${workerData.index}`;
  const log = (text) => parentPort.postMessage({ who: name, text });
  log(`started (threadId ${threadId}), waiting in get()`);
  for (;;) {
    let packet;
    try {
      packet = port.get();
    } catch (error) {
      if (error instanceof PortClosedError) return log('port closed: exiting');
      throw error;
    }
    const { bytesTransferred: ms, completionKey: key, overlapped } = packet;
    if (overlapped === SENTINEL) {
      port.detach(); // give our slot back before we go
      return log('got the sentinel: exiting');
    }
    if (key === WORK) {
      log(`got packet #${overlapped}: working ${ms} ms`);
      const end = Date.now() + ms;
      while (Date.now() < end); // CPU work: this thread counts as running
      log(`finished #${overlapped}, back to get()`);
    } else if (key === SLEEPY) {
      log(`got packet #${overlapped}: sleeping ${ms} ms in port.sleep() (slot given back)`);
      port.sleep(ms);
      log(`woke up, finished #${overlapped}, back to get()`);
    }
  }
}

async function portPart() {
  const show = () => {
    const s = port.stats();
    return `queued ${s.queued}, running ${s.running}, waiting ${s.waiting}`;
  };
  const until = async (pred) => {
    while (!pred()) await new Promise((resolve) => setTimeout(resolve, 1));
  };

  const port = new CompletionPort({ concurrency: 2 });
  heading('Part 2. The completion port underneath: one port, concurrency 2, four worker threads that loop on get()');
  say(`created the port: concurrency ${port.concurrency}, capacity ${port.capacity}`);

  const workers = [];
  for (let index = 0; index < 4; index++) {
    const w = new Worker(new URL(import.meta.url), { workerData: { role: 'port', handle: port.handle, index } });
    // Every line is stamped when it is printed, so the trace reads in order (a worker's line
    // reaches this thread a little after the worker wrote it).
    w.on('message', (m) => console.log(`${stamp()} ${m.who.padEnd(9)} ${m.text}`));
    w.on('error', (error) => {
      console.error(error);
      process.exitCode = 1;
    });
    workers.push(w);
    // Handshake: start the next worker only when this one waits, so the
    // order in which they began waiting is known: 0 first, 3 last.
    await until(() => port.stats().waiting === index + 1);
  }
  say(`all four wait: ${show()}`);

  heading('1. LIFO: the thread that began waiting last is released first');
  say('posting 3 packets, one at a time; each takes 20 ms');
  for (let n = 1; n <= 3; n++) {
    port.post(20, WORK, n);
    await until(() => port.stats().running === 0 && port.stats().waiting === 4);
  }
  say('worker 3 got all three: it went back to get() last, so it is the newest');
  say('waiter each time — one hot thread, three that never woke up.');

  heading('2. The concurrency cap: at most 2 threads run; the others wait');
  say('posting 6 packets at once, 200 ms of CPU work each');
  for (let n = 4; n <= 9; n++) port.post(200, WORK, n);
  say(`right after posting: ${show()}`);
  await until(() => port.stats().queued === 4 && port.stats().running === 2);
  await new Promise((resolve) => setTimeout(resolve, 50));
  say(`mid-work: ${show()} — 2 threads wait although 4 packets are queued`);
  await until(() => port.stats().queued === 0 && port.stats().running === 0);
  await until(() => port.stats().waiting === 4);
  say('the two threads that ran took every packet: a thread that comes back to');
  say('get() while packets are queued takes the next one without sleeping.');

  heading('3. Blocking: a thread that blocks gives its slot back');
  port.post(300, SLEEPY, 10);
  await until(() => port.stats().running === 0 && port.stats().waiting === 3);
  say(`one thread sleeps in port.sleep(): ${show()}`);
  port.post(100, WORK, 11);
  port.post(100, WORK, 12);
  say('posted 2 more packets: both run although one thread is still "busy"');
  await until(() => port.stats().running === 0 && port.stats().queued === 0 && port.stats().waiting === 4);

  heading('4. Shutdown, as CThreadPools::Close does it: one sentinel per thread after the queued work');
  for (let n = 13; n <= 14; n++) port.post(50, WORK, n);
  for (let i = 0; i < workers.length; i++) port.post(0, 0, SENTINEL);
  say(`posted 2 last packets and 4 sentinels: ${show()}`);
  await Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
  const left = port.close();
  say(`every thread exited; close() returned ${left.length} undelivered packets: ${show()}`);
}
