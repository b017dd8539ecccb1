/**
 * Correlation coefficients across runs, with seeded bootstrap confidence
 * intervals.
 *
 * @module
 */
import { Random } from "../core/random.ts";

/**
 * Pearson's r of paired samples: cov(x, y) / (sd(x) sd(y)). NaN when
 * fewer than two pairs or either sample is constant.
 *
 * @example
 * ```ts
 * import { pearson } from "./correlation.ts";
 * console.assert(Math.abs(pearson([1, 2, 3, 4], [1, 3, 2, 4]) - 0.8) < 1e-12);
 * ```
 */
export function pearson(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkPaired(x, y);
  const n = x.length;
  if (n < 2) return NaN;
  let mx = 0, my = 0;
  for (let i = 0; i < n; i++) {
    mx += x[i] / n;
    my += y[i] / n;
  }
  let sxy = 0, sxx = 0, syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) ** 2;
    syy += (y[i] - my) ** 2;
  }
  if (sxx === 0 || syy === 0) return NaN;
  return Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy)));
}

/**
 * Spearman's rho: Pearson's r of the ranks, ties given their average rank.
 *
 * @example
 * ```ts
 * import { spearman } from "./correlation.ts";
 * console.assert(spearman([1, 2, 3], [1, 10, 100]) === 1);
 * ```
 */
export function spearman(x: ArrayLike<number>, y: ArrayLike<number>): number {
  checkPaired(x, y);
  return pearson(ranks(x), ranks(y));
}

/** Ranks 1..n, ties sharing their average rank. */
export function ranks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i)
    .sort((a, b) => values[a] - values[b]);
  const out = new Float64Array(n);
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && values[order[end]] === values[order[start]]) end++;
    const rank = (start + end + 1) / 2;
    for (let k = start; k < end; k++) out[order[k]] = rank;
    start = end;
  }
  return out;
}

/** A coefficient and its bootstrap percentile confidence interval. */
export interface Correlation {
  /** The coefficient on all pairs. */
  r: number;
  /** Lower end of the interval. */
  low: number;
  /** Upper end of the interval. */
  high: number;
}

/** Options for {@linkcode bootstrapCorrelation}. */
export interface BootstrapOptions {
  /** Resamples. Default 1000. */
  resamples?: number;
  /** Coverage of the interval. Default 0.95. */
  confidence?: number;
  /** Seed of the resampling. Default 0. */
  seed?: number;
}

/**
 * `coefficient` of the pairs with a percentile bootstrap interval: pairs
 * are resampled with replacement; resamples where the coefficient is
 * undefined (a constant sample) are left out. Source: Efron and Tibshirani,
 * An Introduction to the Bootstrap (1993), ch. 13.
 *
 * @example
 * ```ts
 * import { bootstrapCorrelation, pearson } from "./correlation.ts";
 * const c = bootstrapCorrelation([1, 2, 3, 4], [2, 4, 6, 8], pearson);
 * console.assert(c.r === 1 && c.low === 1 && c.high === 1);
 * ```
 */
export function bootstrapCorrelation(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  coefficient: (x: ArrayLike<number>, y: ArrayLike<number>) => number,
  options: BootstrapOptions = {},
): Correlation {
  checkPaired(x, y);
  const resamples = options.resamples ?? 1000;
  const confidence = options.confidence ?? 0.95;
  if (!(confidence > 0 && confidence < 1)) {
    throw new RangeError(
      `Cannot bootstrap: confidence is "${confidence}"; give a number ` +
        "between 0 and 1",
    );
  }
  const r = coefficient(x, y);
  const n = x.length;
  const random = new Random(options.seed ?? 0);
  const values: number[] = [];
  const bx = new Float64Array(n);
  const by = new Float64Array(n);
  for (let b = 0; b < resamples && n >= 2; b++) {
    for (let i = 0; i < n; i++) {
      const k = random.int(n);
      bx[i] = x[k];
      by[i] = y[k];
    }
    const v = coefficient(bx, by);
    if (Number.isFinite(v)) values.push(v);
  }
  if (values.length === 0) return { r, low: NaN, high: NaN };
  values.sort((a, b) => a - b);
  const tail = (1 - confidence) / 2;
  return {
    r,
    low: quantile(values, tail),
    high: quantile(values, 1 - tail),
  };
}

/** The q-quantile of sorted values, interpolating linearly. */
function quantile(sorted: number[], q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

function checkPaired(x: ArrayLike<number>, y: ArrayLike<number>): void {
  if (x.length !== y.length) {
    throw new RangeError(
      `Cannot correlate: the samples have ${x.length} and ${y.length} ` +
        "values; give one y per x",
    );
  }
}
