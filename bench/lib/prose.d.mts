import type { CaseDef, summarizeCase } from './summary.mjs';

export interface StoredCase {
  def: CaseDef;
  summary: ReturnType<typeof summarizeCase>;
  runs?: unknown;
  skipped?: Record<string, string>;
}
export interface RunForDocs {
  machine: { cpu: string; cores: number; node: string; date: string; loadStart: string; loadEnd: string | null };
  mode: string;
  wall?: string;
  cases: StoredCase[];
}
export function benchValue(key: string, run: RunForDocs): string;
export function fillValues(text: string, run: RunForDocs): string;
export function benchKeys(text: string): string[];
