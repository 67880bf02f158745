import type { RunForDocs } from './prose.mjs';

export const SCENARIOS: string[];
export function loadStoredRun(root: URL): Promise<RunForDocs & { notes: string[] }>;
