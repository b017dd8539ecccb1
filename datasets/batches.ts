/**
 * Mini-batches: examples gathered from host memory into one Float32Array,
 * optionally augmented there, then uploaded as tensors.
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import { filledTensor } from "../core/native/_wasm_heap.ts";
import { Random } from "../core/random.ts";
import type { Augmentation } from "./augmentation.ts";
import { exampleSize } from "./create_dataset.ts";
import type { Dataset } from "./types.ts";

/** One mini-batch. The receiver disposes `x` and `y`. */
export interface Batch {
  /** Examples, float32, shape [size, ...ds.shape] (NHWC for images). */
  x: tf.Tensor;
  /** Training labels (noisy where label noise was applied), int32. */
  y: tf.Tensor1D;
  /** Index in the data set of each example of the batch. */
  indices: Int32Array;
  /** Number of examples in the batch. */
  size: number;
}

/** Options for {@linkcode batches}. */
export interface BatchOptions {
  /** Examples per batch. Required. */
  batchSize: number;
  /** Visit examples in a random order. Default: true. */
  shuffle?: boolean;
  /**
   * The random source for the order and the augmentation. Required when
   * `shuffle` is true or `augment` is random. Each call to `batches` draws the
   * permutation and then one 32-bit seed for the augmentation stream, so
   * the order does not depend on whether augmentation is on.
   */
  rng?: Random;
  /** Drop a last batch smaller than `batchSize`. Default: false. */
  dropLast?: boolean;
  /** A transform applied to each batch before upload. Default: none. */
  augment?: Augmentation;
}

/**
 * One pass over `ds` in mini-batches. Same `rng` state, same batches.
 *
 * @example One epoch of MNIST-like data
 * ```ts
 * import { batches } from "./batches.ts";
 * import { createDataset } from "./create_dataset.ts";
 * import { Random } from "../core/random.ts";
 * const ds = createDataset(new Float32Array(10), new Int32Array(5), {
 *   shape: [2],
 * });
 * for (const b of batches(ds, { batchSize: 2, rng: new Random(1) })) {
 *   b.x.dispose();
 *   b.y.dispose();
 * }
 * ```
 */
export function* batches(
  ds: Dataset,
  options: BatchOptions,
): Generator<Batch, void, undefined> {
  const { batchSize, shuffle = true, dropLast = false, augment } = options;
  const count = batchCount(ds, batchSize, dropLast);
  const rng = options.rng;
  const random = augment !== undefined && augment.deterministic !== true;
  if (rng === undefined && (shuffle || random)) {
    throw new TypeError(
      `Cannot batch "${ds.name}": shuffle or augment needs a random ` +
        "source; pass { rng: new Random(seed) } or { shuffle: false }",
    );
  }
  const order = shuffle ? rng!.permutation(ds.length) : identity(ds.length);
  const augmentRng = rng === undefined ? undefined : new Random(rng.uint32());
  for (let b = 0; b < count; b++) {
    const start = b * batchSize;
    const indices = order.slice(start, Math.min(start + batchSize, ds.length));
    yield takeBatch(ds, indices, { augment, rng: augmentRng });
  }
}

/** The number of batches {@linkcode batches} yields for one pass. */
export function batchCount(
  ds: Pick<Dataset, "length" | "name">,
  batchSize: number,
  dropLast = false,
): number {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(
      `Cannot batch "${ds.name}": batchSize is ${batchSize}, need an ` +
        "integer >= 1",
    );
  }
  return dropLast
    ? Math.floor(ds.length / batchSize)
    : Math.ceil(ds.length / batchSize);
}

/** Options for {@linkcode takeBatch}. */
export interface TakeBatchOptions {
  /** A transform applied before upload. Default: none. */
  augment?: Augmentation;
  /** The random source of `augment`. Required unless it is deterministic. */
  rng?: Random;
}

/**
 * The batch of the examples at `indices`, as tensors the caller disposes.
 *
 * @example The first three examples
 * ```ts
 * import { takeBatch } from "./batches.ts";
 * import { createDataset } from "./create_dataset.ts";
 * const ds = createDataset(new Float32Array(8), new Int32Array(4), {
 *   shape: [2],
 * });
 * const b = takeBatch(ds, [0, 1, 2]);
 * console.assert(b.x.shape.join() === "3,2");
 * b.x.dispose();
 * b.y.dispose();
 * ```
 */
export function takeBatch(
  ds: Dataset,
  indices: Int32Array | readonly number[],
  options: TakeBatchOptions = {},
): Batch {
  const idx = Int32Array.from(indices);
  // On wasm the examples are gathered (and augmented) straight into the
  // batch tensor's memory: no 100 kB-10 MB array per batch for the
  // JavaScript heap to collect.
  const x = filledTensor([idx.length, ...ds.shape], (values) => {
    gatherExamples(ds, idx, values);
    if (options.augment === undefined) return;
    const rng = options.rng ??
      (options.augment.deterministic ? new Random(0) : undefined);
    if (rng === undefined) {
      throw new TypeError(
        `Cannot augment a batch of "${ds.name}" with ` +
          `"${options.augment.name}": no random source; pass { rng }`,
      );
    }
    options.augment.apply(values, ds.shape, rng);
    if (values.byteLength === 0) {
      // The wasm memory grew under the view: the writes went nowhere.
      throw new Error(
        `Cannot augment a batch of "${ds.name}" with ` +
          `"${options.augment.name}": it allocated tensors while ` +
          "transforming the batch; an augmentation must change only the " +
          "Float32Array it is given, without calling TensorFlow.js",
      );
    }
  });
  const y = new Int32Array(idx.length);
  for (let i = 0; i < idx.length; i++) y[i] = ds.labels[idx[i]];
  return {
    x,
    y: tf.tensor1d(y, "int32"),
    indices: idx,
    size: idx.length,
  };
}

/**
 * Copies the examples at `indices` into one flat array: `into` when given
 * (of exactly that size), else a new one.
 */
export function gatherExamples(
  ds: Dataset,
  indices: Int32Array | readonly number[],
  into?: Float32Array,
): Float32Array {
  const size = exampleSize(ds);
  if (into !== undefined && into.length !== indices.length * size) {
    throw new RangeError(
      `Cannot gather ${indices.length} examples of "${ds.name}" into ` +
        `${into.length} floats; give ${indices.length * size}`,
    );
  }
  const out = into ?? new Float32Array(indices.length * size);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    if (!Number.isInteger(j) || j < 0 || j >= ds.length) {
      throw new RangeError(
        `Cannot take example ${j} of "${ds.name}": indices must lie in ` +
          `[0, ${ds.length})`,
      );
    }
    out.set(ds.x.subarray(j * size, (j + 1) * size), i * size);
  }
  return out;
}

function identity(n: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return out;
}
