import type { Metric } from './summary.mjs';
export function barChart(options: {
  title: string;
  metrics: Metric[];
  rows: Array<{ label: string; kind: string; stats: Record<string, { median: number; min: number; max: number }> | null; note?: string }>;
}): string;
