/**
 * The data evaluators run on: inputs and integer labels on the device, made
 * from a data set and chosen indices.
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import type { Dataset } from "../datasets/types.ts";

/** Inputs and integer labels, on the device. The caller owns them. */
export interface LabelledData {
  /** Inputs, one example per row (NHWC for images). */
  x: tf.Tensor;
  /** Integer labels, shape [n]. */
  y: tf.Tensor;
}

/**
 * The examples of `dataset` at `indices` (all when omitted) as device
 * tensors, with their training labels (noisy where label noise was applied).
 *
 * @example
 * ```ts
 * import { labelledData } from "./labelled_data.ts";
 * import type { Dataset } from "../datasets/types.ts";
 * const ds: Dataset = {
 *   name: "toy", x: new Float32Array([0, 1, 2, 3]), shape: [2],
 *   labels: new Int32Array([0, 1]), cleanLabels: new Int32Array([0, 1]),
 *   noisy: new Uint8Array(2), numClasses: 2, length: 2,
 * };
 * const { x, y } = labelledData(ds, [1]);
 * console.assert(x.shape.join() === "1,2" && y.dataSync()[0] === 1);
 * x.dispose();
 * y.dispose();
 * ```
 */
export function labelledData(
  dataset: Dataset,
  indices?: ArrayLike<number>,
): LabelledData {
  const width = dataset.shape.reduce((a, b) => a * b, 1);
  const idx = indices ?? [...Array(dataset.length).keys()];
  const x = new Float32Array(idx.length * width);
  const y = new Int32Array(idx.length);
  for (let k = 0; k < idx.length; k++) {
    const i = idx[k];
    if (!Number.isInteger(i) || i < 0 || i >= dataset.length) {
      throw new RangeError(
        `Cannot select example "${i}" of "${dataset.name}": it has ` +
          `${dataset.length} examples`,
      );
    }
    x.set(dataset.x.subarray(i * width, (i + 1) * width), k * width);
    y[k] = dataset.labels[i];
  }
  return {
    x: tf.tensor(x, [idx.length, ...dataset.shape]),
    y: tf.tensor1d(y, "int32"),
  };
}
