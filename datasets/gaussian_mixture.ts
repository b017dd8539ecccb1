/**
 * A Gaussian mixture classification task for fast studies: each class is an
 * isotropic Gaussian around its own random centre.
 *
 * @module
 */
import { Random } from "../core/random.ts";
import { createDataset } from "./create_dataset.ts";
import type { DataSplits } from "./types.ts";

/** Options for {@linkcode gaussianMixture}. */
export interface GaussianMixtureOptions {
  /** Number of classes. Default: 10. */
  classes?: number;
  /** Input dimension, for vectors of shape [dim]. Default: 20. */
  dim?: number;
  /** Shape of one example instead of [dim], e.g. [8, 8, 1]. */
  shape?: readonly number[];
  /** Training examples. Default: 1000. */
  size?: number;
  /** Test examples. Default: 1000. */
  testSize?: number;
  /** Distance of each class centre from the origin. Default: 3. */
  separation?: number;
  /** Standard deviation of the noise around a centre. Default: 1. */
  noise?: number;
  /** Seed of the centres and the samples. Default: 0. */
  seed?: number;
}

/**
 * Samples x = mu_y + noise * z with z ~ N(0, I), classes balanced (sizes
 * differ by at most one) in random order, and centres mu_c drawn uniformly
 * on the sphere of radius `separation`. Train and test share the centres.
 *
 * @example Three classes in two dimensions
 * ```ts
 * import { gaussianMixture } from "./gaussian_mixture.ts";
 * const { train, test } = gaussianMixture({ classes: 3, dim: 2, size: 30 });
 * console.assert(train.length === 30 && test.shape[0] === 2);
 * ```
 */
export function gaussianMixture(
  options: GaussianMixtureOptions = {},
): DataSplits {
  const classes = options.classes ?? 10;
  const shape = [...(options.shape ?? [options.dim ?? 20])];
  const dim = shape.reduce((a, b) => a * b, 1);
  const separation = options.separation ?? 3;
  const noise = options.noise ?? 1;
  const seed = options.seed ?? 0;
  checkPositive("classes", classes);
  checkPositive("dim", dim);
  const rng = new Random(seed);
  const centres = randomCentres(classes, dim, separation, rng.fork("centres"));
  const split = (size: number, part: string) => {
    checkPositive(`${part} size`, size);
    const r = rng.fork(part);
    const labels = r.shuffle(
      new Int32Array(size).map((_, i) => i % classes),
    ) as Int32Array;
    const x = new Float32Array(size * dim);
    for (let i = 0; i < size; i++) {
      const mu = centres[labels[i]];
      for (let d = 0; d < dim; d++) x[i * dim + d] = mu[d] + noise * r.normal();
    }
    return createDataset(x, labels, {
      shape,
      numClasses: classes,
      name: `gaussian-mixture/${part}`,
    });
  };
  return {
    train: split(options.size ?? 1000, "train"),
    test: split(options.testSize ?? 1000, "test"),
  };
}

function randomCentres(
  classes: number,
  dim: number,
  radius: number,
  rng: Random,
): Float64Array[] {
  return Array.from({ length: classes }, () => {
    const v = Float64Array.from({ length: dim }, () => rng.normal());
    const norm = Math.hypot(...v) || 1;
    return v.map((e) => (e * radius) / norm);
  });
}

function checkPositive(what: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot make a Gaussian mixture: ${what} is ${value}, need an ` +
        "integer >= 1",
    );
  }
}
