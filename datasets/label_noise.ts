/**
 * Label noise for memorization studies: corrupt a chosen fraction of the
 * training labels and keep the clean ones and a mask beside them.
 *
 * @module
 */
import type { Random } from "../core/random.ts";
import { createDataset } from "./create_dataset.ts";
import type { Dataset } from "./types.ts";

/**
 * Symmetric noise: exactly `round(fraction * N)` examples, chosen uniformly
 * without replacement, get a label drawn uniformly from the other
 * `numClasses - 1` classes (never their clean label). Note that some papers
 * draw from all classes instead, so that part of the "noise" keeps the
 * clean label; here every corrupted label is wrong.
 */
export interface SymmetricNoise {
  /** The kind of noise. */
  kind: "symmetric";
  /** Fraction of all examples to corrupt, in [0, 1]. Required. */
  fraction: number;
  /** The random source choosing examples and new labels. Required. */
  rng: Random;
}

/**
 * Asymmetric (class-dependent) noise: for each source class `c` that
 * `mapping` sends to another class `t`, exactly `round(fraction * N_c)` of
 * the `N_c` examples whose clean label is `c`, chosen uniformly without
 * replacement, get label `t`. Classes the mapping leaves out (or maps to
 * themselves) keep all their labels.
 */
export interface AsymmetricNoise {
  /** The kind of noise. */
  kind: "asymmetric";
  /** Fraction of each mapped class to flip, in [0, 1]. Required. */
  fraction: number;
  /** The random source choosing examples. Required. */
  rng: Random;
  /**
   * Where each class flips to: an object `{ from: to }` or an array whose
   * entry `c` is the target of class `c` (a permutation, for instance).
   * Default: pair flipping, `c -> (c + 1) mod numClasses` (Han et al.,
   * 2018). See {@linkcode MNIST_ASYMMETRIC} and
   * {@linkcode CIFAR10_ASYMMETRIC} for the usual choices.
   */
  mapping?: Readonly<Record<number, number>> | readonly number[];
}

/** Options for {@linkcode labelNoise}. */
export type LabelNoiseOptions = SymmetricNoise | AsymmetricNoise;

/** MNIST's usual asymmetric flips 7->1, 2->7, 5<->6, 3->8 (Patrini 2017). */
export const MNIST_ASYMMETRIC: Readonly<Record<number, number>> = {
  7: 1,
  2: 7,
  5: 6,
  6: 5,
  3: 8,
};

/**
 * CIFAR-10's usual asymmetric flips (Patrini et al., 2017): truck ->
 * automobile, bird -> airplane, deer -> horse, cat <-> dog.
 */
export const CIFAR10_ASYMMETRIC: Readonly<Record<number, number>> = {
  9: 1,
  2: 0,
  4: 7,
  3: 5,
  5: 3,
};

/**
 * A copy of `ds` with noisy training labels. Noise is drawn afresh from
 * `ds.cleanLabels`, so noise applied earlier is replaced, not compounded.
 * The examples are shared with `ds`, not copied. Same rng state, same noise.
 *
 * @example Corrupt 20% of the labels
 * ```ts
 * import { labelNoise } from "./label_noise.ts";
 * import { createDataset } from "./create_dataset.ts";
 * import { Random } from "../core/random.ts";
 * const ds = createDataset(new Float32Array(10), new Int32Array(10), {
 *   shape: [1],
 *   numClasses: 3,
 * });
 * const noisy = labelNoise(ds, {
 *   kind: "symmetric",
 *   fraction: 0.2,
 *   rng: new Random(0),
 * });
 * console.assert(noisy.noisy.reduce((a, b) => a + b, 0) === 2);
 * ```
 */
export function labelNoise(ds: Dataset, options: LabelNoiseOptions): Dataset {
  const { fraction } = options;
  if (!(fraction >= 0 && fraction <= 1)) {
    throw new RangeError(
      `Cannot add label noise to "${ds.name}": fraction is ${fraction}, ` +
        "need a number in [0, 1]",
    );
  }
  let labels: Int32Array;
  if (options.kind === "symmetric") {
    labels = symmetric(ds, fraction, options.rng);
  } else if (options.kind === "asymmetric") {
    labels = asymmetric(ds, options);
  } else {
    throw new TypeError(
      `Cannot add label noise to "${ds.name}": kind "${
        (options as { kind: string }).kind
      }" is unknown; choose "symmetric" or "asymmetric"`,
    );
  }
  const percent = Math.round(fraction * 100);
  return createDataset(ds.x, labels, {
    shape: ds.shape,
    numClasses: ds.numClasses,
    cleanLabels: ds.cleanLabels,
    name: `${ds.name}+${options.kind}${percent}`,
  });
}

function symmetric(ds: Dataset, fraction: number, rng: Random): Int32Array {
  const labels = ds.cleanLabels.slice();
  const count = Math.round(fraction * ds.length);
  if (count > 0 && ds.numClasses < 2) {
    throw new RangeError(
      `Cannot add symmetric noise to "${ds.name}": it has one class, so no ` +
        "label can change",
    );
  }
  for (const i of pick(ds.length, count, rng)) {
    const shift = 1 + rng.int(ds.numClasses - 1);
    labels[i] = (labels[i] + shift) % ds.numClasses;
  }
  return labels;
}

function asymmetric(ds: Dataset, options: AsymmetricNoise): Int32Array {
  const targets = resolveMapping(ds, options.mapping);
  const byClass: number[][] = Array.from({ length: ds.numClasses }, () => []);
  ds.cleanLabels.forEach((c, i) => byClass[c].push(i));
  const labels = ds.cleanLabels.slice();
  for (let c = 0; c < ds.numClasses; c++) {
    const to = targets[c];
    if (to === c) continue;
    const members = byClass[c];
    const count = Math.round(options.fraction * members.length);
    for (const k of pick(members.length, count, options.rng)) {
      labels[members[k]] = to;
    }
  }
  return labels;
}

/** The target of every class; a class that does not flip maps to itself. */
function resolveMapping(
  ds: Dataset,
  mapping: AsymmetricNoise["mapping"],
): Int32Array {
  const n = ds.numClasses;
  const targets = new Int32Array(n).map((_, c) => c);
  if (mapping === undefined) return targets.map((c) => (c + 1) % n);
  for (const [key, value] of Object.entries(mapping)) {
    const from = Number(key);
    for (const [what, c] of [["class", from], ["target", value]] as const) {
      if (!Number.isInteger(c) || c < 0 || c >= n) {
        throw new RangeError(
          `Cannot add asymmetric noise to "${ds.name}": mapping ${key} -> ` +
            `${value} has ${what} ${c} outside [0, ${n})`,
        );
      }
    }
    targets[from] = value;
  }
  return targets;
}

/** `count` distinct indices in [0, n), uniformly (partial Fisher-Yates). */
function pick(n: number, count: number, rng: Random): Int32Array {
  const all = new Int32Array(n).map((_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + rng.int(n - i);
    const tmp = all[i];
    all[i] = all[j];
    all[j] = tmp;
  }
  return all.subarray(0, count);
}
