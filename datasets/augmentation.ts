/**
 * The contract of a data augmentation: a seeded, in-place transform of the
 * flat Float32Array of one batch, applied before it becomes a tensor.
 *
 * @module
 */
import type { Random } from "../core/random.ts";

/** A transform of a batch of examples, done in place on host memory. */
export interface Augmentation {
  /** A short description, e.g. "crop(4)+flip+normalize". */
  readonly name: string;
  /**
   * Transforms the examples in `x` (row-major, each of shape `shape`, NHWC
   * for images) in place, drawing any randomness from `rng`.
   */
  apply(x: Float32Array, shape: readonly number[], rng: Random): void;
}
