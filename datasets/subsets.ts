/**
 * Subsets of a data set: chosen indices, the first N, a stratified sample,
 * and the fixed evaluation subset curvature estimators use.
 *
 * @module
 */
import { Random } from "../core/random.ts";
import { gatherExamples } from "./batches.ts";
import type { Dataset } from "./types.ts";

/** Options for {@linkcode subset}. */
export interface SubsetOptions {
  /** Name of the result. Default: `${ds.name}[n]`. */
  name?: string;
}

/**
 * The examples of `ds` at `indices`, in that order, with their labels,
 * clean labels and noise mask. The examples are copied.
 *
 * @example Two examples
 * ```ts
 * import { subset } from "./subsets.ts";
 * import { createDataset } from "./create_dataset.ts";
 * const ds = createDataset(new Float32Array(3), new Int32Array([0, 1, 2]), {
 *   shape: [1],
 * });
 * console.assert(subset(ds, [2, 0]).labels.join() === "2,0");
 * ```
 */
export function subset(
  ds: Dataset,
  indices: Int32Array | readonly number[],
  options: SubsetOptions = {},
): Dataset {
  const idx = Int32Array.from(indices);
  const x = gatherExamples(ds, idx);
  const pick = <T extends Int32Array | Uint8Array>(a: T): T => {
    const out = new (a.constructor as { new (n: number): T })(idx.length);
    for (let i = 0; i < idx.length; i++) out[i] = a[idx[i]];
    return out;
  };
  return {
    name: options.name ?? `${ds.name}[${idx.length}]`,
    x,
    shape: ds.shape,
    labels: pick(ds.labels),
    cleanLabels: pick(ds.cleanLabels),
    noisy: pick(ds.noisy),
    numClasses: ds.numClasses,
    length: idx.length,
  };
}

/** The first `n` examples of `ds`. */
export function firstN(ds: Dataset, n: number): Dataset {
  checkCount(ds, n);
  return subset(ds, range(n), { name: `${ds.name}[:${n}]` });
}

/** Options for {@linkcode stratifiedSubset}. */
export interface StratifiedOptions {
  /** The random source choosing examples within each class. Required. */
  rng: Random;
  /**
   * Stratify by the clean labels or by the training labels. Default:
   * "clean".
   */
  by?: "clean" | "labels";
  /** Name of the result. Default: `${ds.name}[strat n]`. */
  name?: string;
}

/**
 * Exactly `n` examples, each class represented in proportion to its share
 * of `ds` (largest remainders: class c gets floor(n * N_c / N), and the
 * classes with the largest fractional parts one more, ties to the lower
 * class). Examples within a class are chosen uniformly; the result keeps
 * the order of `ds`.
 *
 * @example A balanced sample of 100
 * ```ts ignore
 * import { stratifiedSubset } from "./subsets.ts";
 * import { Random } from "../core/random.ts";
 * const small = stratifiedSubset(train, 100, { rng: new Random(0) });
 * ```
 */
export function stratifiedSubset(
  ds: Dataset,
  n: number,
  options: StratifiedOptions,
): Dataset {
  checkCount(ds, n);
  const labels = (options.by ?? "clean") === "clean"
    ? ds.cleanLabels
    : ds.labels;
  const members: number[][] = Array.from(
    { length: ds.numClasses },
    () => [],
  );
  labels.forEach((c, i) => members[c].push(i));
  const quotas = largestRemainder(members.map((m) => m.length), n);
  const chosen: number[] = [];
  members.forEach((m, c) => {
    const order = options.rng.permutation(m.length);
    for (let k = 0; k < quotas[c]; k++) chosen.push(m[order[k]]);
  });
  chosen.sort((a, b) => a - b);
  return subset(ds, chosen, {
    name: options.name ?? `${ds.name}[strat ${n}]`,
  });
}

/** Options for {@linkcode evalSubset}. */
export interface EvalSubsetOptions {
  /** The seed that fixes the subset. Default: 0. */
  seed?: number;
}

/**
 * The fixed evaluation subset: `n` examples stratified by clean label,
 * chosen by `seed` alone, so every run and every evaluator of a data set
 * sees the same ones (a number for the third argument is taken as the
 * seed). Labels stay as in `ds`, noisy where noise was applied.
 *
 * @example 500 examples for Tr(F) and Tr(H) estimates
 * ```ts ignore
 * import { evalSubset } from "./subsets.ts";
 * const probe = evalSubset(train, 500, { seed: 0 });
 * ```
 */
export function evalSubset(
  ds: Dataset,
  n: number,
  options: EvalSubsetOptions | number = {},
): Dataset {
  const seed = typeof options === "number" ? options : options.seed ?? 0;
  return stratifiedSubset(ds, n, {
    rng: new Random(seed).fork("evalSubset"),
    name: `${ds.name}[eval ${n} seed ${seed}]`,
  });
}

/** Splits `n` in proportion to `sizes`, by largest remainders. */
function largestRemainder(sizes: number[], n: number): number[] {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (n === 0 || total === 0) return sizes.map(() => 0);
  const exact = sizes.map((s) => (n * s) / total);
  const quotas = exact.map(Math.floor);
  let left = n - quotas.reduce((a, b) => a + b, 0);
  const order = exact
    .map((e, c) => ({ c, frac: e - Math.floor(e) }))
    .filter(({ c }) => quotas[c] < sizes[c])
    .sort((a, b) => b.frac - a.frac || a.c - b.c);
  for (const { c } of order) {
    if (left === 0) break;
    quotas[c]++;
    left--;
  }
  return quotas;
}

function checkCount(ds: Dataset, n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > ds.length) {
    throw new RangeError(
      `Cannot take ${n} examples of "${ds.name}": it has ${ds.length}; ` +
        `choose an integer in [0, ${ds.length}]`,
    );
  }
}

function range(n: number): Int32Array {
  return new Int32Array(n).map((_, i) => i);
}
