// The native backend is an entry point of its own (iocp-pool/native): what backend 'native' and
// 'auto' do with and without it, off Windows and — by the reason the registry gives — on Windows
// without it loaded.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as main from '../../dist/index.js';
import { requireNative } from '../../src/port/native-registry.js';
import { ownStderr } from '../child-stderr.js';

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
  // In a process of its own: the package loads as Node loads it for a program (vitest runs dist/
  // through its own module runner), which is also what lets coverage see the native layer here.
  it.skipIf(process.platform === 'win32')(
    'exports what iocp-pool does and the native classes; off Windows every native call says why it cannot be',
    () => {
      const fixture = fileURLToPath(new URL('./fixtures/native-entry.mjs', import.meta.url));
      const r = spawnSync(process.execPath, [fixture], { encoding: 'utf8', timeout: 30_000 });
      expect(ownStderr(r.stderr)).toBe('');
      expect(r.stdout).toMatch(/\n5 passed\n$/);
      expect(r.status).toBe(0);
    },
  );
});
