/**
 * The contract of a data augmentation: a seeded, in-place transform of the
 * flat Float32Array of one batch, applied before it becomes a tensor. Also
 * composition and the defaults for each data set.
 *
 * @module
 */
import type { Random } from "../core/random.ts";
import { horizontalFlip } from "./horizontal_flip.ts";
import {
  type ChannelStats,
  CIFAR100_STATS,
  CIFAR10_STATS,
  normalize,
} from "./normalize.ts";
import { randomCrop } from "./random_crop.ts";

/** A transform of a batch of examples, done in place on host memory. */
export interface Augmentation {
  /** A short description, e.g. "crop(4)+flip+normalize". */
  readonly name: string;
  /** True when `apply` draws nothing from `rng` (it may then be omitted). */
  readonly deterministic?: boolean;
  /**
   * Transforms the examples in `x` (row-major, each of shape `shape`, NHWC
   * for images) in place, drawing any randomness from `rng`. It must not
   * call TensorFlow.js: on the wasm backend `x` is a view of the batch
   * tensor's memory, which allocating would move.
   */
  apply(x: Float32Array, shape: readonly number[], rng: Random): void;
}

/**
 * Applies `steps` one after the other.
 *
 * @example Crop, flip, then normalize
 * ```ts
 * import { compose } from "./augmentation.ts";
 * import { randomCrop } from "./random_crop.ts";
 * import { horizontalFlip } from "./horizontal_flip.ts";
 * const augment = compose(randomCrop(), horizontalFlip());
 * console.assert(augment.name === "crop(4)+flip");
 * ```
 */
export function compose(...steps: Augmentation[]): Augmentation {
  return {
    name: steps.map((s) => s.name).join("+") || "none",
    deterministic: steps.every((s) => s.deterministic === true),
    apply(x: Float32Array, shape: readonly number[], rng: Random): void {
      for (const step of steps) step.apply(x, shape, rng);
    },
  };
}

/** Options for {@linkcode defaultAugmentation}. */
export interface DefaultAugmentationOptions {
  /**
   * Statistics for normalization. Default: {@linkcode CIFAR10_STATS} or
   * {@linkcode CIFAR100_STATS}; pass `channelStats(train)` for exact ones.
   */
  stats?: ChannelStats;
}

/**
 * The usual training augmentation of a data set, by name ("cifar10",
 * "cifar100-fine/train", "mnist", ...): random crop with 4 pixels of zero
 * padding, horizontal flip and per-channel normalization for CIFAR; none
 * (undefined) for MNIST, Fashion-MNIST, synthetic and unknown sets. Test
 * batches need {@linkcode defaultPreprocessing} instead.
 *
 * @example
 * ```ts
 * import { defaultAugmentation } from "./augmentation.ts";
 * console.assert(defaultAugmentation("mnist") === undefined);
 * console.assert(
 *   defaultAugmentation("cifar10")?.name === "crop(4)+flip+normalize",
 * );
 * ```
 */
export function defaultAugmentation(
  name: string,
  options: DefaultAugmentationOptions = {},
): Augmentation | undefined {
  const stats = cifarStats(name, options);
  if (stats === undefined) return undefined;
  return compose(
    randomCrop({ padding: 4 }),
    horizontalFlip(),
    normalize(stats),
  );
}

/**
 * The deterministic part of {@linkcode defaultAugmentation}, for test and
 * evaluation batches: normalization for CIFAR, nothing for the others.
 *
 * @example
 * ```ts
 * import { defaultPreprocessing } from "./augmentation.ts";
 * console.assert(defaultPreprocessing("cifar100")?.name === "normalize");
 * ```
 */
export function defaultPreprocessing(
  name: string,
  options: DefaultAugmentationOptions = {},
): Augmentation | undefined {
  const stats = cifarStats(name, options);
  return stats === undefined ? undefined : normalize(stats);
}

function cifarStats(
  name: string,
  options: DefaultAugmentationOptions,
): ChannelStats | undefined {
  const base = name.toLowerCase().split("/")[0];
  if (!base.startsWith("cifar")) return undefined;
  if (options.stats !== undefined) return options.stats;
  return base.startsWith("cifar100") || base.startsWith("cifar-100")
    ? CIFAR100_STATS
    : CIFAR10_STATS;
}
