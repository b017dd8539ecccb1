/**
 * The shape of a data set in fisherlab: examples held in host memory as one
 * flat Float32Array, with the labels used for training and, beside them, the
 * clean labels and a mask of which labels were corrupted by label noise.
 *
 * @module
 */

/** A labelled classification data set held in host memory. */
export interface Dataset {
  /** A short name, e.g. "mnist/train". */
  readonly name: string;
  /** Examples, row-major, `length * prod(shape)` values. Images are NHWC. */
  readonly x: Float32Array;
  /** The shape of one example, e.g. [28, 28, 1] or [20] for vectors. */
  readonly shape: readonly number[];
  /** The labels training uses (noisy where label noise was applied). */
  readonly labels: Int32Array;
  /** The original labels, before any label noise. */
  readonly cleanLabels: Int32Array;
  /** 1 where `labels[i] !== cleanLabels[i]` because of label noise. */
  readonly noisy: Uint8Array;
  /** Number of classes; every label is in [0, numClasses). */
  readonly numClasses: number;
  /** Number of examples. */
  readonly length: number;
}

/** A training and a test split. */
export interface DataSplits {
  readonly train: Dataset;
  readonly test: Dataset;
}
