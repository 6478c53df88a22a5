// Small statistics for benchmark figures: medians of repeated timings and geometric
// means of ratios (the right mean for "x times faster" across filters).

/** A figure that could not be measured here, and why; shown as such, never as a number. */
export interface NotMeasured {
  notMeasured: string;
}

export type Maybe<T> = T | NotMeasured;

export const notMeasured = (reason: string): NotMeasured => ({ notMeasured: reason });

export function isMeasured<T>(x: Maybe<T>): x is T {
  return !(typeof x === "object" && x !== null && "notMeasured" in x);
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error("median of no values");
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Geometric mean; NaN when any value is not a positive finite number. */
export function geomean(xs: readonly number[]): number {
  if (xs.length === 0 || xs.some((x) => !(x > 0) || !Number.isFinite(x))) return NaN;
  return Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
}

/** Runs `fn` `n` times (after `warmup` unrecorded runs) and returns each run's wall time in ms. */
export function timeRuns(n: number, fn: () => void, warmup = 0): number[] {
  for (let i = 0; i < warmup; i++) fn();
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    fn();
    out.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return out;
}

export const fmtRatio = (r: number) => (Number.isFinite(r) ? `${r.toFixed(3)}×` : "—");

export function fmtNum(x: number, digits = 1): string {
  if (!Number.isFinite(x)) return "—";
  return Number.isInteger(x) ? String(x) : x.toFixed(digits);
}
