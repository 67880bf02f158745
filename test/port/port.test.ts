// The port suite on the portable backend. The same suite runs on the native
// backend under node:test (test/native/).
import { afterAll, describe, it } from 'vitest';
import * as lib from '../../dist/index.js';
import { portSuite } from './suite.mjs';

const libUrl = new URL('../../dist/index.js', import.meta.url).href;

portSuite({ describe, it, after: afterAll }, { backend: 'portable', lib, libUrl });
