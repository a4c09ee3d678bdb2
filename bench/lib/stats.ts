// Percentiles and round aggregation. A round's figure is one percentile of that round's samples;
// a system's figure is the median of its round figures, with the spread (min..max) beside it.

/** Percentile (0..100) by linear interpolation between closest ranks; NaN for no samples. */
export function percentile(samples: readonly number[] | Float64Array, p: number): number {
  const n = samples.length;
  if (n === 0) return Number.NaN;
  const s = Float64Array.from(samples).sort();
  const rank = (p / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.min(n - 1, lo + 1);
  return s[lo]! + (s[hi]! - s[lo]!) * (rank - lo);
}

export function median(xs: readonly number[]): number {
  return percentile(xs, 50);
}

/** A figure over rounds: the median of the round figures and their spread. */
export interface Agg {
  median: number;
  min: number;
  max: number;
  rounds: number[];
}

export function agg(rounds: readonly number[]): Agg {
  const finite = rounds.filter((x) => Number.isFinite(x));
  if (finite.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, rounds: [...rounds] };
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), rounds: [...rounds] };
}

/** Paired per-round differences b[i] - a[i] (both measured in the same round), aggregated. */
export function paired(a: readonly number[], b: readonly number[]): Agg {
  return agg(a.map((x, i) => (b[i] ?? Number.NaN) - x));
}
