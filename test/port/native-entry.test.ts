// The native backend is an entry point of its own (iocp-pool/native): what backend 'native' and
// 'auto' do with and without it, off Windows and — by the reason the registry gives — on Windows
// without it loaded.
import { describe, expect, it } from 'vitest';
import * as main from '../../dist/index.js';
import { requireNative } from '../../src/port/native-registry.js';

const worker = new URL('../pool/fixtures/handlers.mjs', import.meta.url);

describe('the main entry point, without iocp-pool/native', () => {
  it('exports no native class: the Win32 layer is not in it', () => {
    expect(Object.keys(main).filter((name) => /^Native(?!BackendUnavailableError)|^nativeAvailable$/.test(name))).toEqual([]);
    expect(main.NativeBackendUnavailableError).toBeTypeOf('function');
  });

  it.skipIf(process.platform === 'win32')("backend 'native' throws NativeBackendUnavailableError naming the platform; 'auto' is portable", () => {
    const port = () => new main.CompletionPort({ backend: 'native' });
    expect(port).toThrow(main.NativeBackendUnavailableError);
    expect(port).toThrow(`process.platform is '${process.platform}'`);
    const pool = () => new main.ThreadPool({ filename: worker, backend: 'native' });
    expect(pool).toThrow(main.NativeBackendUnavailableError);
    const auto = new main.CompletionPort({ backend: 'auto' });
    expect(auto.stats().backend).toBe('portable');
    auto.close();
  });

  it("on Windows, says to import 'iocp-pool/native' when the backend was not loaded", () => {
    const platform = Object.getOwnPropertyDescriptor(process, 'platform')!;
    const arch = Object.getOwnPropertyDescriptor(process, 'arch')!;
    Object.defineProperty(process, 'platform', { ...platform, value: 'win32' });
    Object.defineProperty(process, 'arch', { ...arch, value: 'x64' });
    try {
      // This module instance (src/, loaded by the test alone) has no backend registered.
      expect(() => requireNative()).toThrow(
        /not available: it is an entry point of its own, which this program has not loaded: import 'iocp-pool\/native' once/,
      );
      expect(() => requireNative()).toThrow(expect.objectContaining({ code: 'ERR_IOCP_NATIVE_UNAVAILABLE' }));
    } finally {
      Object.defineProperty(process, 'platform', platform);
      Object.defineProperty(process, 'arch', arch);
    }
  });
});

describe('iocp-pool/native', () => {
  it('exports everything the main entry point does — the same objects — and the native classes', async () => {
    const native = await import('../../dist/native.js');
    for (const [name, value] of Object.entries(main)) expect((native as Record<string, unknown>)[name], name).toBe(value);
    expect(native.NativeFile).toBeTypeOf('function');
    expect(native.NativeSocket).toBeTypeOf('function');
    expect(native.NativeCompletionPort).toBeTypeOf('function');
  });

  it.skipIf(process.platform === 'win32')(
    "loaded, backend 'native' still says why it cannot be here, through both entry points; portable pools run",
    async () => {
      const native = await import('../../dist/native.js');
      expect(native.nativeAvailable()).toBe(false);
      for (const lib of [main, native]) {
        expect(() => new lib.CompletionPort({ backend: 'native' })).toThrow(`process.platform is '${process.platform}'`);
        expect(() => new lib.ThreadPool({ filename: worker, backend: 'native' })).toThrow(main.NativeBackendUnavailableError);
      }
      const pool = new native.ThreadPool({ filename: worker, threads: 1, backend: 'auto' });
      expect(pool.port.stats().backend).toBe('portable');
      expect(await pool.run('x')).toBe('default:x');
      await pool.close();
    },
  );
});
