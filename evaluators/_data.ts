/**
 * Internals shared by the curvature evaluators: option checking, chunking,
 * host vectors, and keeping batch-norm statistics unchanged.
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import type { LayersModel } from "../core/tf.ts";
import { trainableParams } from "../core/functional.ts";
import { filledTensor } from "../core/native/_wasm_heap.ts";
import type { LabelledData } from "./labelled_data.ts";
import type { BatchNormMode, CurvatureOptions } from "./curvature_options.ts";

export type { BatchNormMode, CurvatureOptions, LabelledData };

const BN_MODES: readonly BatchNormMode[] = ["batch", "running"];

/** Resolved shared options. */
export interface Resolved {
  training: boolean;
  params: tf.Variable[];
  batchSize: number;
}

/** Checks and fills in the shared options. */
export function resolve(
  model: LayersModel,
  options: CurvatureOptions,
): Resolved {
  const bn = options.bn ?? "batch";
  if (!BN_MODES.includes(bn)) {
    throw new RangeError(
      `Cannot measure curvature: bn mode "${bn}" is unknown; choose one of ` +
        BN_MODES.map((m) => `"${m}"`).join(", "),
    );
  }
  const batchSize = options.batchSize ?? 128;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(
      `Cannot measure curvature: batchSize is "${batchSize}"; ` +
        "give a positive integer",
    );
  }
  return {
    training: bn === "batch",
    params: trainableParams(model, options.params ?? "all"),
    batchSize,
  };
}

/** Number of examples in `data`, after checking x and y agree. */
export function sizeOf(data: LabelledData): number {
  const n = data.x.shape[0];
  if (data.y.shape.length !== 1 || data.y.shape[0] !== n) {
    throw new RangeError(
      `Cannot evaluate: x has ${n} rows but y has shape ` +
        `"[${data.y.shape.join(", ")}]"; give one integer label per row`,
    );
  }
  if (n === 0) {
    throw new RangeError("Cannot evaluate: the data is empty");
  }
  return n;
}

/** Consecutive slices of at most `size` examples. The caller disposes. */
export function chunksOf(data: LabelledData, size: number): LabelledData[] {
  const n = sizeOf(data);
  if (n <= size) return [{ x: data.x.clone(), y: data.y.clone() }];
  const out: LabelledData[] = [];
  for (let start = 0; start < n; start += size) {
    const len = Math.min(size, n - start);
    out.push({
      x: tf.slice(data.x, start, len),
      y: tf.slice(data.y, start, len),
    });
  }
  return out;
}

/** Disposes every tensor of a list of chunks. */
export function disposeChunks(chunks: LabelledData[]): void {
  for (const c of chunks) tf.dispose([c.x, c.y]);
}

/** Flattens a list of tensors into one host vector, in float64. */
export async function flatten(tensors: tf.Tensor[]): Promise<Float64Array> {
  const size = tensors.reduce((s, t) => s + t.size, 0);
  const out = new Float64Array(size);
  let offset = 0;
  for (const t of tensors) {
    out.set(await t.data() as Float32Array, offset);
    offset += t.size;
  }
  return out;
}

/** Splits a host vector into tensors shaped like `like`. */
export function unflatten(v: Float64Array, like: tf.Tensor[]): tf.Tensor[] {
  let offset = 0;
  return like.map((t) => {
    const part = v.subarray(offset, offset + t.size);
    offset += t.size;
    // On wasm converted straight into the tensor's memory: no float32 copy
    // on the JavaScript heap (a probe of a million weights is 4 MB).
    return filledTensor(t.shape, (values) => values.set(part));
  });
}

/**
 * Runs `fn` and then puts back the model's non-trainable weights. A forward
 * pass with training=true makes batch-norm layers update their running
 * statistics; measuring curvature must not change the model it measures.
 */
export async function keepingStatistics<T>(
  model: LayersModel,
  training: boolean,
  fn: () => Promise<T>,
): Promise<T> {
  if (!training || model.nonTrainableWeights.length === 0) return await fn();
  const saved = model.nonTrainableWeights.map((w) => tf.clone(w.read()));
  try {
    return await fn();
  } finally {
    model.nonTrainableWeights.forEach((w, i) => w.write(saved[i]));
    tf.dispose(saved);
  }
}
