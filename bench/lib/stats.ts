// Order statistics for bench figures: percentiles of samples, and the median
// and spread (min-max) of a figure over repeated runs.

/** The p-th percentile (nearest rank) of `xs`; NaN when empty. */
export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}

export interface Stats {
  n: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export function stats(xs: number[]): Stats {
  return { n: xs.length, p50: pct(xs, 50), p99: pct(xs, 99), max: Math.max(...xs), mean: +(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(1) };
}

/** A figure over repeated runs: the median and the lowest and highest run. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function spread(runs: number[], digits = 2): Spread {
  const r = (x: number): number => +x.toFixed(digits);
  const s = [...runs].sort((a, b) => a - b);
  const mid = s.length % 2 === 1 ? (s[(s.length - 1) / 2] as number) : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
  return { median: r(mid), min: r(s[0] ?? NaN), max: r(s.at(-1) ?? NaN), runs: runs.map(r) };
}

/** `12.3 (10.1-15.0)`: the median and the spread, as tables print it. */
export function showSpread(s: Spread | null, digits = 1): string {
  if (s === null || Number.isNaN(s.median)) return '-';
  return s.min === s.max ? s.median.toFixed(digits) : `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;
}
