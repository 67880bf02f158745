/** The subjects of the pool scenarios: iocp-pool and the four peers, in a fixed base order. */
import { ADAPTERS } from '../adapters/index.mjs';

export const poolSubjects = () => Object.entries(ADAPTERS).map(([id, a]) => ({ id, label: a.label, kind: a.kind, needsPool: !!a.needsPool }));
