/**
 * One adapter per library, all with the same shape:
 *
 *   const pool = await ADAPTERS[name].create({ threads, job })   // job: 'inc' | 'fib' | 'echo'
 *   await pool.run(x)        → the handler's result
 *   pool.queue?.(x)          → fire-and-forget, where the library has one (iocp-pool's queueRequest); false when full
 *   await pool.drain?.()     → resolves once everything queued with queue() has run
 *   await pool.destroy()
 *   pool.pool?               → iocp-pool's ThreadPool itself (to detect features such as alloc())
 *
 * `options` (iocp-pool only) go to its ThreadPool, e.g. { serialization: 'json' }.
 *
 * `asyncTasksPerThread: n` asks a peer to run up to n async handlers on one
 * thread at once (their option for handlers that await I/O): piscina and
 * tinypool `concurrentTasksPerWorker: n` (piscina with `atomics: 'async'`, as
 * its README says for tasks that keep the thread's event loop busy).
 * poolifier does so already (a thread takes every task sent to it), and
 * iocp-pool too (a thread whose handler awaits takes the next packet).
 * workerpool runs one task per thread and has no such option:
 * `ADAPTERS.workerpool.overlapsAsync` is false.
 *
 * Each peer is configured the way its README recommends for throughput:
 * fixed size (min = max threads, so no thread is created or retired while
 * measuring), default queue and messaging options.
 */
import { fileURLToPath } from 'node:url';

const worker = (name) => fileURLToPath(new URL(`../workers/${name}.mjs`, import.meta.url));
const DIST = new URL('../../dist/index.js', import.meta.url);

/**
 * Waits for a pool's destroy() at most `ms`. poolifier 5.3.2's destroy()
 * now and then never settles (about 1 time in 15 here: the event loop
 * empties with it pending). Teardown is not what is measured, so a stuck
 * destroy is reported on stderr and the measurement goes on.
 */
function bounded(promise, what, ms = 1500) {
  let timer;
  const late = new Promise((resolve) => {
    timer = setTimeout(() => {
      process.stderr.write(`warning: ${what} did not settle within ${ms} ms; going on\n`);
      resolve();
    }, ms);
  });
  return Promise.race([Promise.resolve(promise).finally(() => clearTimeout(timer)), late]);
}

/** iocp-pool's ThreadPool from the built package, or null while this build has none. */
export async function loadThreadPool() {
  try {
    const mod = await import(DIST.href);
    return typeof mod.ThreadPool === 'function' ? mod.ThreadPool : null;
  } catch {
    return null;
  }
}

export const ADAPTERS = {
  'iocp-pool': {
    label: 'iocp-pool',
    kind: 'iocp',
    needsPool: true,
    overlapsAsync: true,
    async create({ threads, job, options = {} }) {
      const ThreadPool = await loadThreadPool();
      if (!ThreadPool) throw new Error('iocp-pool ThreadPool is not in dist/ (branch pool not merged or not built)');
      // concurrency = threads: every thread may run at once, as in the peers.
      const pool = new ThreadPool({ filename: worker(job), threads, concurrency: threads, ...options });
      // Every thread up and its module loaded, as the peers' fixed pools are after their warm-up.
      if (pool.ready) await pool.ready;
      return {
        run: (x) => pool.run(x),
        // false when the queue is full (or the pool is closed): the caller decides how to retry.
        queue: (x) => pool.queueRequest(x),
        // close() posts one sentinel per thread after all queued work and resolves when every thread has exited.
        drain: () => pool.close(),
        destroy: () => bounded(pool.destroy(), 'iocp-pool destroy()'),
        pool,
      };
    },
  },

  piscina: {
    label: 'piscina',
    kind: 'peer',
    overlapsAsync: true,
    async create({ threads, job, asyncTasksPerThread }) {
      const { Piscina } = await import('piscina');
      const overlap = asyncTasksPerThread ? { concurrentTasksPerWorker: asyncTasksPerThread, atomics: 'async' } : {};
      const pool = new Piscina({ filename: worker(job), minThreads: threads, maxThreads: threads, ...overlap });
      return { run: (x) => pool.run(x), destroy: () => bounded(pool.destroy(), 'piscina destroy()') };
    },
  },

  tinypool: {
    label: 'tinypool',
    kind: 'peer',
    overlapsAsync: true,
    async create({ threads, job, asyncTasksPerThread }) {
      const { Tinypool } = await import('tinypool');
      const overlap = asyncTasksPerThread ? { concurrentTasksPerWorker: asyncTasksPerThread } : {};
      const pool = new Tinypool({ filename: worker(job), minThreads: threads, maxThreads: threads, ...overlap });
      return { run: (x) => pool.run(x), destroy: () => bounded(pool.destroy(), 'tinypool destroy()') };
    },
  },

  workerpool: {
    label: 'workerpool',
    kind: 'peer',
    overlapsAsync: false,
    async create({ threads, job }) {
      const { default: workerpool } = await import('workerpool');
      const pool = workerpool.pool(worker(`workerpool-${job}`), {
        minWorkers: threads,
        maxWorkers: threads,
        workerType: 'thread',
      });
      return { run: (x) => pool.exec('job', [x]), destroy: () => bounded(pool.terminate(true), 'workerpool terminate()') };
    },
  },

  poolifier: {
    label: 'poolifier',
    kind: 'peer',
    overlapsAsync: true,
    async create({ threads, job }) {
      const { FixedThreadPool } = await import('poolifier');
      const pool = new FixedThreadPool(threads, worker(`poolifier-${job}`), {
        errorHandler: (e) => console.error(e),
      });
      return { run: (x) => pool.execute(x), destroy: () => bounded(pool.destroy(), 'poolifier destroy()') };
    },
  },
};

export const POOL_SUBJECTS = Object.keys(ADAPTERS);
