/**
 * Per-channel normalization: subtract each channel's mean and divide by its
 * standard deviation, both measured on a data set (usually the training
 * split) and applied to every batch.
 *
 * @module
 */
import type { Augmentation } from "./augmentation.ts";
import type { Dataset } from "./types.ts";

/** Mean and standard deviation of each channel (the last axis). */
export interface ChannelStats {
  /** Mean per channel. */
  mean: readonly number[];
  /** Standard deviation per channel (population, divisor N). */
  std: readonly number[];
}

/**
 * The commonly used CIFAR-10 training-set statistics of pixels in [0, 1].
 * {@linkcode channelStats} on the loaded data gives the exact values.
 */
export const CIFAR10_STATS: ChannelStats = {
  mean: [0.4914, 0.4822, 0.4465],
  std: [0.247, 0.2435, 0.2616],
};

/** The commonly used CIFAR-100 training-set statistics (see above). */
export const CIFAR100_STATS: ChannelStats = {
  mean: [0.5071, 0.4865, 0.4409],
  std: [0.2673, 0.2564, 0.2762],
};

/**
 * Measures the mean and standard deviation of each channel (last axis of
 * the example shape) over all examples of `ds`, in float64.
 *
 * @example Two one-channel examples
 * ```ts
 * import { channelStats } from "./normalize.ts";
 * import { createDataset } from "./create_dataset.ts";
 * const ds = createDataset(new Float32Array([0, 2]), new Int32Array(2), {
 *   shape: [1, 1, 1],
 * });
 * const { mean, std } = channelStats(ds);
 * console.assert(mean[0] === 1 && std[0] === 1);
 * ```
 */
export function channelStats(ds: Pick<Dataset, "x" | "shape">): ChannelStats {
  const c = ds.shape[ds.shape.length - 1];
  const count = ds.x.length / c;
  const sum = new Float64Array(c);
  for (let i = 0; i < ds.x.length; i++) sum[i % c] += ds.x[i];
  const mean = [...sum].map((s) => s / count);
  const squares = new Float64Array(c);
  for (let i = 0; i < ds.x.length; i++) {
    const d = ds.x[i] - mean[i % c];
    squares[i % c] += d * d;
  }
  const std = [...squares].map((s) => Math.sqrt(s / count));
  return { mean, std };
}

/**
 * Normalizes each channel in place: (v - mean[c]) / std[c]. Deterministic;
 * use it alone for test batches. A channel with std 0 is only centred.
 *
 * @example Normalize with measured statistics
 * ```ts
 * import { normalize } from "./normalize.ts";
 * import { Random } from "../core/random.ts";
 * const stats = { mean: [0.5], std: [0.25] };
 * const x = new Float32Array([0.75]);
 * normalize(stats).apply(x, [1, 1, 1], new Random(0));
 * console.assert(x[0] === 1);
 * ```
 */
export function normalize(stats: ChannelStats): Augmentation {
  const c = stats.mean.length;
  if (c === 0 || stats.std.length !== c) {
    throw new RangeError(
      `Cannot normalize: ${stats.mean.length} means and ` +
        `${stats.std.length} standard deviations; need one of each per ` +
        "channel",
    );
  }
  const mean = Float32Array.from(stats.mean);
  const scale = Float32Array.from(stats.std, (s) => (s > 0 ? 1 / s : 1));
  return {
    name: "normalize",
    deterministic: true,
    apply(x: Float32Array, shape: readonly number[]): void {
      if (shape[shape.length - 1] !== c) {
        throw new RangeError(
          `Cannot normalize examples of shape [${shape}]: the statistics ` +
            `have ${c} channels, the examples ${shape[shape.length - 1]}`,
        );
      }
      for (let i = 0; i < x.length; i += c) {
        for (let k = 0; k < c; k++) x[i + k] = (x[i + k] - mean[k]) * scale[k];
      }
    },
  };
}
