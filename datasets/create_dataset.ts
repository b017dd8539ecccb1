/**
 * Building a {@linkcode Dataset} from arrays, with its invariants checked.
 *
 * @module
 */
import type { Dataset } from "./types.ts";

/** Options for {@linkcode createDataset}. */
export interface CreateDatasetOptions {
  /** The shape of one example, e.g. [28, 28, 1]. Required. */
  shape: readonly number[];
  /** Number of classes. Default: one more than the largest label. */
  numClasses?: number;
  /** A short name for messages and reports. Default: "dataset". */
  name?: string;
  /** Clean labels when `labels` carry noise. Default: a copy of `labels`. */
  cleanLabels?: Int32Array;
}

/**
 * Makes a data set from flat examples and labels, checking that sizes agree
 * and every label is in range. The arrays are used as they are, not copied.
 *
 * @example A data set of two 2-d points
 * ```ts
 * import { createDataset } from "./create_dataset.ts";
 * const ds = createDataset(
 *   new Float32Array([0, 0, 1, 1]),
 *   new Int32Array([0, 1]),
 *   { shape: [2] },
 * );
 * console.assert(ds.length === 2 && ds.numClasses === 2);
 * ```
 */
export function createDataset(
  x: Float32Array,
  labels: Int32Array,
  options: CreateDatasetOptions,
): Dataset {
  const name = options.name ?? "dataset";
  const shape = [...options.shape];
  const size = shape.reduce((a, b) => a * b, 1);
  if (!shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new RangeError(
      `Cannot create data set "${name}": shape [${shape}] must hold ` +
        "positive integers",
    );
  }
  const length = labels.length;
  if (x.length !== length * size) {
    throw new RangeError(
      `Cannot create data set "${name}": ${length} labels need ` +
        `${length * size} values of shape [${shape}], got ${x.length}`,
    );
  }
  let max = -1;
  for (let i = 0; i < length; i++) if (labels[i] > max) max = labels[i];
  const numClasses = options.numClasses ?? max + 1;
  checkLabels(labels, numClasses, name);
  const cleanLabels = options.cleanLabels ?? labels.slice();
  if (cleanLabels.length !== length) {
    throw new RangeError(
      `Cannot create data set "${name}": ${cleanLabels.length} clean ` +
        `labels for ${length} labels`,
    );
  }
  checkLabels(cleanLabels, numClasses, name);
  const noisy = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    noisy[i] = labels[i] !== cleanLabels[i] ? 1 : 0;
  }
  return { name, x, shape, labels, cleanLabels, noisy, numClasses, length };
}

function checkLabels(labels: Int32Array, numClasses: number, name: string) {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new RangeError(
      `Cannot create data set "${name}": numClasses is ${numClasses}, ` +
        "need an integer >= 1",
    );
  }
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] < 0 || labels[i] >= numClasses) {
      throw new RangeError(
        `Cannot create data set "${name}": label ${labels[i]} at index ` +
          `${i} is outside [0, ${numClasses})`,
      );
    }
  }
}

/** The number of values in one example of `ds`. */
export function exampleSize(ds: Pick<Dataset, "shape">): number {
  return ds.shape.reduce((a, b) => a * b, 1);
}
