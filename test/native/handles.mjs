// Native-only tests: real handles on a real completion port. Overlapped file
// I/O associated under a completion key, completions dequeued on another
// thread, failures as packets, OVERLAPPED memory freed, backend selection.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

const ERROR_FILE_NOT_FOUND = 2;
const ERROR_ACCESS_DENIED = 5;
const ERROR_HANDLE_EOF = 38;

export function handleSuite(t, { lib, libUrl, realLib = lib }) {
  const { describe, it, after } = t;
  const { CompletionPort, NativeFile, PortClosedError } = lib;
  const dir = mkdtempSync(join(tmpdir(), 'iocp-native-'));
  after?.(() => {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Wine sometimes reports ENOTEMPTY for a directory whose files it is still deleting: a temp dir, leave it.
    }
  });

  describe('native backend: real handles', () => {
    it("backend 'native' and 'auto' give a kernel port on Windows; the default stays portable", () => {
      const a = new CompletionPort({ backend: 'native', concurrency: 2 });
      const b = new CompletionPort({ backend: 'auto' });
      const c = new CompletionPort();
      assert.equal(a.stats().backend, 'native');
      assert.equal(b.stats().backend, 'native');
      assert.equal(c.stats().backend, 'portable');
      // (realLib: the runner hands the tests a subclass that tracks ports; a native port is not an instance of that.)
      assert.ok(a instanceof realLib.CompletionPort, 'a native port is instanceof CompletionPort (same interface)');
      assert.ok(c instanceof realLib.CompletionPort);
      assert.ok(!({} instanceof realLib.CompletionPort));
      assert.equal(a.handle.backend, 'native');
      assert.match(a.handle.port, /^[1-9][0-9]*$/);
      assert.deepEqual(structuredClone(a.handle).port, a.handle.port);
      for (const p of [a, b, c]) p.close();
    });

    it('a posted packet keeps any finite number exactly (key and overlapped are the IEEE bits)', () => {
      const port = new CompletionPort({ backend: 'native' });
      const values = [0, -0, 1, -1, 0.5, Math.PI, -1e300, 5e-324, 2 ** 53 + 2, Number.MAX_VALUE, -Number.MIN_VALUE];
      for (const v of values) port.post(0xffffffff, v, v);
      for (const v of values) {
        const p = port.get(0);
        assert.ok(Object.is(p.completionKey, v), `key ${v} came back as ${p.completionKey}`);
        assert.ok(Object.is(p.overlapped, v), `overlapped ${v} came back as ${p.overlapped}`);
        assert.equal(p.bytesTransferred, 0xffffffff);
      }
      port.close();
    });

    it('overlapped writes then reads on an associated file complete as packets with bytes, key and operation id', () => {
      const port = new CompletionPort({ backend: 'native', concurrency: 2 });
      const path = join(dir, 'rw.bin');
      const file = NativeFile.open(port, path, { key: 42, flags: 'r+' });
      const w1 = file.write(0, 'hello, ');
      const w2 = file.write(7, new TextEncoder().encode('completion port'));
      const writes = [port.get(5000), port.get(5000)].sort((x, y) => x.overlapped - y.overlapped);
      assert.deepEqual(
        writes.map((p) => [p.overlapped, p.completionKey, p.bytesTransferred, p.error, p.operation]),
        [
          [w1, 42, 7, 0, 'write'],
          [w2, 42, 15, 0, 'write'],
        ],
      );
      const r = file.read(0, 64, 1234.5);
      assert.equal(r, 1234.5, 'a caller-chosen operation id comes back as is');
      const p = port.get(5000);
      assert.equal(p.overlapped, 1234.5);
      assert.equal(p.completionKey, 42);
      assert.equal(p.error, 0);
      assert.equal(p.bytesTransferred, 22);
      assert.equal(new TextDecoder().decode(p.data), 'hello, completion port');
      file.close();
      assert.equal(readFileSync(path, 'utf8'), 'hello, completion port');
      assert.equal(port.pendingIo(), 0, 'every OVERLAPPED block was freed when its packet was dequeued');
      port.close();
    });

    it('completions are dequeued by another thread (a worker blocked in GQCS), with their data', async () => {
      const port = new CompletionPort({ backend: 'native', concurrency: 2 });
      const path = join(dir, 'other-thread.txt');
      writeFileSync(path, 'abcdefghijklmnopqrstuvwxyz');
      const worker = new Worker(new URL('./fixtures/io-consumer.mjs', import.meta.url), {
        workerData: { handle: port.handle, libUrl, count: 3 },
      });
      const done = new Promise((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      const start = Date.now();
      while (port.stats().waiting !== 1) {
        if (Date.now() - start > 10_000) throw new Error('worker never waited');
        await new Promise((r) => setTimeout(r, 1));
      }
      const file = NativeFile.open(port, path, { key: 7 });
      const ids = [file.read(0, 3), file.read(10, 5), file.read(25, 10)];
      const got = (await done).packets.sort((x, y) => x.overlapped - y.overlapped);
      assert.deepEqual(
        got.map((p) => [p.overlapped, p.completionKey, p.bytesTransferred, p.text, p.error, p.operation]),
        [
          [ids[0], 7, 3, 'abc', 0, 'read'],
          [ids[1], 7, 5, 'klmno', 0, 'read'],
          [ids[2], 7, 1, 'z', 0, 'read'],
        ],
      );
      file.close();
      assert.equal(port.pendingIo(), 0);
      port.close();
    });

    it('a failed operation arrives as a packet carrying its error, never as a lost completion', () => {
      const port = new CompletionPort({ backend: 'native' });
      const path = join(dir, 'short.txt');
      writeFileSync(path, '12345');
      const reader = NativeFile.open(port, path, { key: 1 });
      const eof = reader.read(100, 10);
      const p = port.get(5000);
      assert.equal(p.overlapped, eof);
      assert.equal(p.error, ERROR_HANDLE_EOF, `read past the end: error ${p.error}`);
      assert.equal(p.bytesTransferred, 0);
      assert.equal(p.completionKey, 1);
      // Reading a handle opened for writing only fails too: still a packet, with ERROR_ACCESS_DENIED.
      const writer = NativeFile.open(port, join(dir, 'write-only.txt'), { key: 2, flags: 'w' });
      const denied = writer.read(0, 4);
      const q = port.get(5000);
      assert.deepEqual([q.overlapped, q.completionKey, q.error, q.operation], [denied, 2, ERROR_ACCESS_DENIED, 'read']);
      reader.close();
      writer.close();
      assert.equal(port.pendingIo(), 0);
      port.close();
    });

    it('getMany (GetQueuedCompletionStatusEx) returns I/O packets and posted packets together, FIFO for posts', () => {
      const port = new CompletionPort({ backend: 'native' });
      const path = join(dir, 'many.txt');
      writeFileSync(path, 'x'.repeat(1000));
      const file = NativeFile.open(port, path, { key: 9 });
      const ids = [];
      for (let i = 0; i < 5; i++) ids.push(file.read(i * 100, 100));
      port.post(1, 2, 3);
      const got = [];
      while (got.length < 6) got.push(...port.getMany(16, 5000));
      const io = got.filter((p) => p.operation === 'read');
      assert.deepEqual(
        io.map((p) => p.overlapped).sort((a, b) => a - b),
        ids,
      );
      for (const p of io) assert.equal(p.data.length, 100);
      assert.deepEqual(
        got.filter((p) => p.operation === undefined),
        [{ bytesTransferred: 1, completionKey: 2, overlapped: 3 }],
      );
      file.close();
      assert.equal(port.pendingIo(), 0);
      port.close();
    });

    it('close() returns I/O completions still queued (their memory freed) and then CloseHandle runs', () => {
      const port = new CompletionPort({ backend: 'native' });
      const path = join(dir, 'close.txt');
      writeFileSync(path, 'queued at close');
      const file = NativeFile.open(port, path, { key: 5 });
      const id = file.read(0, 6);
      port.post(0, 11, 0);
      const left = port.close();
      const io = left.find((p) => p.overlapped === id);
      assert.ok(io, `close() returned ${JSON.stringify(left)}`);
      assert.equal(new TextDecoder().decode(io.data), 'queued');
      assert.ok(left.some((p) => p.completionKey === 11));
      assert.equal(port.pendingIo(), 0);
      assert.throws(() => file.read(0, 1), PortClosedError);
      assert.throws(() => NativeFile.open(port, path), PortClosedError);
      file.close();
    });

    it('opening a missing file throws with its Win32 error; a portable port is refused', () => {
      const port = new CompletionPort({ backend: 'native' });
      assert.throws(
        () => NativeFile.open(port, join(dir, 'missing.txt')),
        (e) => e.winError === ERROR_FILE_NOT_FOUND,
      );
      assert.throws(() => NativeFile.open(new CompletionPort(), join(dir, 'x')), TypeError);
      assert.throws(
        () => CompletionPort.from({ ...port.handle, pid: port.handle.pid + 1 }),
        (e) => e instanceof TypeError && e.message.includes('process'),
      );
      port.close();
    });

    it('1,000 overlapped reads through 2 consumer threads: every completion exactly once, nothing leaked', async () => {
      const port = new CompletionPort({ backend: 'native', concurrency: 2 });
      const path = join(dir, 'bulk.bin');
      const N = 1000;
      const content = Buffer.alloc(N * 4);
      for (let i = 0; i < N; i++) content.writeUInt32LE(i, i * 4);
      writeFileSync(path, content);
      const workers = [0, 1].map(
        () =>
          new Worker(new URL('./fixtures/io-consumer.mjs', import.meta.url), {
            workerData: { handle: port.handle, libUrl, count: Infinity },
          }),
      );
      const results = workers.map(
        (w) =>
          new Promise((resolve, reject) => {
            w.once('message', resolve);
            w.once('error', reject);
          }),
      );
      const file = NativeFile.open(port, path, { key: 3 });
      for (let i = 0; i < N; i++) file.read(i * 4, 4, i);
      const start = Date.now();
      while (port.pendingIo() > 0) {
        if (Date.now() - start > 30_000) throw new Error(`${port.pendingIo()} completions never dequeued`);
        await new Promise((r) => setTimeout(r, 5));
      }
      port.close();
      const packets = (await Promise.all(results)).flatMap((r) => r.packets);
      assert.equal(packets.length, N);
      const seen = new Set();
      for (const p of packets) {
        assert.equal(p.error, 0);
        assert.equal(Buffer.from(p.bytes).readUInt32LE(0), p.overlapped, 'each buffer holds what its operation read');
        seen.add(p.overlapped);
      }
      assert.equal(seen.size, N);
      file.close();
    });
  });
}
