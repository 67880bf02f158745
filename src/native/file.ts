/**
 * Real handles on a native port: a file opened for overlapped I/O
 * (FILE_FLAG_OVERLAPPED) and associated with the port under a completion key
 * — CreateIoCompletionPort(file, port, key, 0) — whose reads and writes
 * complete as packets on the port, dequeued by any thread that holds it.
 *
 * Each read()/write() allocates one native block (OVERLAPPED + buffer, see
 * ./overlapped.ts) that stays put until its packet is dequeued, where it is
 * freed. The packet is an IoCompletionPacket: bytesTransferred, the key, the
 * operation's id as `overlapped`, `error` (0 or a Win32 code), `operation`,
 * and for reads `data`. An operation that fails at once (ReadFile returns
 * FALSE with anything but ERROR_IO_PENDING) is posted to the port by the
 * library with its error, so a failure always arrives as a packet.
 */
import { checkFinite, checkInteger, checkOptions, describe } from '../port/validate.js';
import { N_IO_PENDING } from './ledger.js';
import { internalsOf, NativeCompletionPort, type PortInternals } from './native-port.js';
import { encodeNumber } from './values.js';
import { allocBlock, BLOCK_HEADER, freeBlock, OP_READ, OP_WRITE, setBlockError, setOffset } from './overlapped.js';
import { ERROR_IO_PENDING, INVALID_HANDLE_VALUE } from './win32.js';

const GENERIC_READ = 0x80000000;
const GENERIC_WRITE = 0x40000000;
const FILE_SHARE_READ = 1;
const FILE_SHARE_WRITE = 2;
const FILE_SHARE_DELETE = 4;
const CREATE_ALWAYS = 2;
const OPEN_EXISTING = 3;
const OPEN_ALWAYS = 4;
const FILE_FLAG_OVERLAPPED = 0x40000000;
const FILE_ATTRIBUTE_NORMAL = 0x80;

/** The options of `NativeFile.open(port, path, options)`. */
export interface OpenFileOptions {
  /** The completion key packets of this file carry. Default 0. */
  key?: number;
  /** 'r' (default): open existing for reading; 'w': create or truncate for writing; 'r+': open or create, read and write. */
  flags?: 'r' | 'w' | 'r+';
}

/**
 * A file opened for overlapped I/O (CreateFileW with FILE_FLAG_OVERLAPPED) and associated with
 * a native port under a completion key: its reads and writes complete as packets on the port.
 * Windows only. Guide: docs/native.md.
 */
export class NativeFile {
  /** The path it was opened with. */
  readonly path: string;
  /** The completion key its packets carry. */
  readonly key: number;
  readonly #port: NativeCompletionPort;
  readonly #p: PortInternals;
  #file: bigint;

  private constructor(port: NativeCompletionPort, p: PortInternals, path: string, key: number, file: bigint) {
    this.#port = port;
    this.#p = p;
    this.path = path;
    this.key = key;
    this.#file = file;
  }

  /** Opens `path` for overlapped I/O and associates it with `port` under `options.key`. */
  static open(port: unknown, path: string, options?: OpenFileOptions): NativeFile {
    if (!(port instanceof NativeCompletionPort)) {
      throw new TypeError(`port must be a native completion port (backend 'native'), got ${describe(port)}`);
    }
    if (typeof path !== 'string' || path.length === 0) throw new TypeError(`path must be a non-empty string, got ${describe(path)}`);
    const o = checkOptions('options', options);
    const key = o.key === undefined ? 0 : checkFinite('options.key', o.key);
    const flags = o.flags ?? 'r';
    if (flags !== 'r' && flags !== 'w' && flags !== 'r+') throw new RangeError(`options.flags must be 'r', 'w' or 'r+', got ${describe(flags)}`);
    const p = internalsOf(port);
    const { w } = p;
    const access = flags === 'r' ? GENERIC_READ : flags === 'w' ? GENERIC_WRITE : GENERIC_READ | GENERIC_WRITE;
    const disposition = flags === 'r' ? OPEN_EXISTING : flags === 'w' ? CREATE_ALWAYS : OPEN_ALWAYS;
    // Enter first: a closed port throws before a file handle exists that could leak.
    p.enter();
    let file: bigint;
    try {
      file = w.CreateFileW(
        path,
        access,
        FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
        0n,
        disposition,
        FILE_FLAG_OVERLAPPED | FILE_ATTRIBUTE_NORMAL,
        0n,
      );
      if (file === INVALID_HANDLE_VALUE || file === 0n) {
        const error = w.GetLastError();
        throw Object.assign(new Error(`CreateFileW(${JSON.stringify(path)}) failed: Win32 error ${error}`), { winError: error });
      }
      const r = w.CreateIoCompletionPort(file, p.port, encodeNumber(key), 0);
      if (r === 0n) {
        const error = w.GetLastError();
        w.CloseHandle(file);
        throw new Error(`CreateIoCompletionPort(file, port) failed: Win32 error ${error}`);
      }
    } finally {
      p.leave();
    }
    return new NativeFile(port, p, path, key, file);
  }

  /** Whether close() has been called. */
  get closed(): boolean {
    return this.#file === 0n;
  }

  /** Issues an overlapped ReadFile of `length` bytes at `offset`. Returns the operation id (the packet's `overlapped`). */
  read(offset: number, length: number, id?: number): number {
    checkInteger('offset', offset, 0, Number.MAX_SAFE_INTEGER);
    checkInteger('length', length, 0, 0x7fffffff - BLOCK_HEADER);
    return this.#issue(OP_READ, offset, length, undefined, id);
  }

  /** Issues an overlapped WriteFile of `data` at `offset`. Returns the operation id. */
  write(offset: number, data: Uint8Array | string, id?: number): number {
    checkInteger('offset', offset, 0, Number.MAX_SAFE_INTEGER);
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    if (!(bytes instanceof Uint8Array)) throw new TypeError(`data must be a Uint8Array or a string, got ${describe(data)}`);
    return this.#issue(OP_WRITE, offset, bytes.length, bytes, id);
  }

  /** Cancels this file's pending I/O (their packets still arrive, with ERROR_OPERATION_ABORTED). */
  cancel(): void {
    if (this.#file !== 0n) this.#p.w.CancelIoEx(this.#file, 0n);
  }

  /** Closes the file handle. Pending operations complete (or abort) and still arrive as packets. */
  close(): void {
    const file = this.#file;
    if (file === 0n) return;
    this.#file = 0n;
    this.#p.w.CloseHandle(file);
  }

  #issue(op: number, offset: number, length: number, data: Uint8Array | undefined, id: number | undefined): number {
    if (this.#file === 0n) throw new Error(`the file ${JSON.stringify(this.path)} is closed`);
    const opId = id === undefined ? this.#port.nextId() : checkFinite('id', id);
    const { w, port, i32 } = this.#p;
    this.#p.enter();
    try {
      const block = allocBlock(w, op, opId, length, port);
      setOffset(w, block, offset);
      const buffer = block + BigInt(BLOCK_HEADER);
      if (data !== undefined && length > 0) new Uint8Array(w.view(buffer, length)).set(data);
      // Counted before the call: the packet may be dequeued by another thread before ReadFile returns.
      Atomics.add(i32, N_IO_PENDING, 1);
      const ok = op === OP_READ ? w.ReadFile(this.#file, buffer, length, 0n, block) : w.WriteFile(this.#file, buffer, length, 0n, block);
      if (!ok) {
        const error = w.GetLastError();
        if (error !== ERROR_IO_PENDING) {
          // No packet will come from the kernel: deliver the failure as one ourselves.
          setBlockError(w, block, error);
          if (!w.PostQueuedCompletionStatus(port, 0, encodeNumber(this.key), block)) {
            Atomics.sub(i32, N_IO_PENDING, 1);
            freeBlock(w, block);
            throw new Error(`operation failed with Win32 error ${error}, and posting its packet failed`);
          }
        }
      }
      return opId;
    } finally {
      this.#p.leave();
    }
  }
}
