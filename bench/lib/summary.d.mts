export interface Metric {
  key: string;
  label: string;
  unit: string;
  better: 'higher' | 'lower';
}
export interface Subject {
  id: string;
  label: string;
  kind: string;
  needsPool?: boolean;
}
export interface Target {
  metric: string;
  label: string;
  subject?: string;
  against?: string;
  ratioAtLeast?: number;
  ratioAtMost?: number;
  atLeast?: number;
  atMost?: number;
  below?: number;
  info?: boolean;
}
export interface CaseDef {
  id: string;
  title: string;
  subjects: Subject[];
  metrics: Metric[];
  compareTo?: string;
  compareWith?: string[];
  /** README.md's results table: 'workload' for a whole application's work; else the pool's own cost. */
  group?: 'workload';
  targets?: Target[];
}
export interface Run {
  ok: boolean;
  result?: Record<string, number>;
  error?: string;
}
export interface TargetCheck {
  label: string;
  ok: boolean | null;
  measured: number | null;
  detail: string;
  info?: boolean;
}
export function summarizeCase(
  caseDef: CaseDef,
  runs: Record<string, Run[]>,
  skipped?: Record<string, string>,
): {
  rows: Array<Subject & { ratio: Record<string, number>; runs: number; note?: string }>;
  best: Record<string, { id: string; value: number } | null>;
  targets: TargetCheck[];
};
