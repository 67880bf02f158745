import type { RunForDocs } from './prose.mjs';

export const SCENARIOS: string[];
export function loadStoredRun(root: URL): Promise<RunForDocs & { notes: string[] }>;
export function asMeasured<T extends { title: string; note?: string; params?: unknown }>(def: T, stored: { title?: string; params?: unknown }): T;
