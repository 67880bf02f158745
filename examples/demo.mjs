// npm start — a completion port at work, told as a trace.
//
// The main thread creates a port with concurrency 2 and starts 4 worker
// threads that loop on port.get(), like the ServerWorkerThread of the Winsock
// echo server in the original articles (docs/background.md). Then:
//   1. LIFO: packets posted one at a time all go to the newest waiter, so one
//      thread stays hot and the others stay asleep.
//   2. The cap: 6 packets posted at once; only 2 threads run, 2 stay waiting
//      although packets are queued, and a thread that finishes takes the next
//      packet at once without sleeping.
//   3. Blocking: a handler that sleeps gives its slot back, so a waiting
//      thread is released to run meanwhile.
//   4. Shutdown: one sentinel packet per thread (overlapped = -1), posted after
//      the queued work, then close() — which returns nothing left behind.
import { isMainThread, parentPort, threadId, Worker, workerData } from 'node:worker_threads';
import { CompletionPort, PortClosedError } from 'iocp-pool';

const SENTINEL = -1; // CThreadPools' (OVERLAPPED*)-1: "exit now"
const WORK = 1; // completionKey: busy for bytesTransferred ms
const SLEEPY = 2; // completionKey: port.sleep(bytesTransferred ms), a blocking call

if (isMainThread) {
  await main();
} else {
  worker();
}

function worker() {
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

async function main() {
  const start = Date.now();
  const stamp = (at) => `[${String(at - start).padStart(5)} ms]`;
  const say = (text) => console.log(`${stamp(Date.now())} main      ${text}`);
  const heading = (text) => console.log(`\n── ${text}`);
  const show = () => {
    const s = port.stats();
    return `queued ${s.queued}, running ${s.running}, waiting ${s.waiting}`;
  };
  const until = async (pred) => {
    while (!pred()) await new Promise((resolve) => setTimeout(resolve, 1));
  };

  const port = new CompletionPort({ concurrency: 2 });
  console.log('iocp-pool demo: one completion port, concurrency 2, four worker threads\n');
  say(`created the port: concurrency ${port.concurrency}, capacity ${port.capacity}`);

  const workers = [];
  for (let index = 0; index < 4; index++) {
    const w = new Worker(new URL(import.meta.url), { workerData: { handle: port.handle, index } });
    // Every line is stamped when it is printed, so the trace reads in order (a worker's line
    // reaches this thread a little after the worker wrote it).
    w.on('message', (m) => console.log(`${stamp(Date.now())} ${m.who.padEnd(9)} ${m.text}`));
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
  console.log('\ndone. See README.md for the API, docs/ for the guides.');
}
