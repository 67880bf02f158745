export interface Summary {
  n: number;
  median: number;
  min: number;
  max: number;
  q1: number;
  q3: number;
  spread: number;
}
export function sorted(xs: number[]): number[];
export function quantile(xs: number[], q: number): number;
export function median(xs: number[]): number;
export function percentile(xs: number[], p: number): number;
export function summarize(xs: number[]): Summary;
export function latencySummary(
  samplesNs: Float64Array | number[],
  count?: number,
): { p50: number; p90: number; p99: number; max: number; mean: number; n: number };
