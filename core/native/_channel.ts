/**
 * Elementwise arithmetic, batch normalization and per-channel sums for the
 * wasm backend, in place on its memory: the work of a batch-norm layer and
 * of its gradient, which the wasm backend spreads over many full-size
 * passes (a multiply by a per-channel vector there runs at a third of the
 * speed of a plain multiply, and FusedBatchNorm indexes its channel per
 * element).
 *
 * - Multiply, Add, Sub, RealDiv, Neg, Square: one oneDNN binary primitive
 *   on two threads, for operands of one shape, a per-channel (trailing)
 *   operand repeated down the other, or a scalar.
 * - FusedBatchNorm on NHWC: oneDNN's batch normalization with the given
 *   mean and variance, one pass.
 * - fisherlab's batch normalization with batch statistics and its
 *   gradient (kernels/batch_norm_training.ts): oneDNN's training-mode
 *   primitives, forward and backward.
 * - Column sums (Sum and Mean over leading axes): the hand-assembled SIMD
 *   `colsum` of _wasm_code.ts on this thread, in blocks of rows added in
 *   float64: a million equal terms come out within 1e-6 of their sum,
 *   where a running float32 sum is 1% off.
 *   The BLAS's threaded sgemv was 2.5 times slower here inside a training
 *   step, its threads contending with oneDNN's.
 *
 * Each returns undefined for what it does not handle, for the caller to
 * fall back on the wasm backend's kernel.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { BatchNormGrads, BatchNormStats, BinaryOp, Dnnl } from "./dnnl.ts";
import type { ColumnSum4 } from "./_wasm_code.ts";
import { heapView, type WasmBackend } from "./_wasm_heap.ts";

/** What these kernels need from the native pack. */
export interface ChannelContext {
  /** oneDNN, when it loaded. */
  dnnl?: Dnnl;
  /** Tensors with fewer elements go to the wasm kernel. */
  minSize: number;
}

/** Widest row a broadcast operand is tiled to; see {@linkcode Dnnl.binary}. */
const WIDE = 256;

/** How one elementwise call maps onto {@linkcode Dnnl.binary}. */
export interface BinaryPlan {
  rows: number;
  cols: number;
  b: "same" | "row" | "scalar";
  /** The operands trade places (a commutative op with a broadcast a). */
  swap: boolean;
  /** How many copies of b's row make one row of `cols`. */
  tile: number;
}

/**
 * The plan for a op b on shapes `a` and `b`, or undefined when it is not
 * one of the three forms: same shape; b (after dropping leading ones) the
 * trailing dimensions of a; b a single number. With `commutative`, a and b
 * may trade places.
 */
export function planBinary(
  a: number[],
  b: number[],
  commutative: boolean,
): BinaryPlan | undefined {
  const plan = planOrdered(a, b);
  if (plan || !commutative) return plan;
  const swapped = planOrdered(b, a);
  return swapped && { ...swapped, swap: true };
}

function planOrdered(a: number[], b: number[]): BinaryPlan | undefined {
  const size = tf.util.sizeFromShape(a);
  if (tf.util.arraysEqual(a, b)) return flat(size, "same");
  if (b.length > a.length) return undefined;
  const bSize = tf.util.sizeFromShape(b);
  if (bSize === 1) return flat(size, "scalar");
  let first = 0;
  while (b[first] === 1) first++;
  const trailing = b.slice(first);
  if (!tf.util.arraysEqual(a.slice(a.length - trailing.length), trailing)) {
    return undefined;
  }
  let rows = size / bSize;
  let tile = 1;
  while (bSize * tile < WIDE && rows % 2 === 0) {
    tile *= 2;
    rows /= 2;
  }
  const cols = bSize * tile;
  if (cols < 8) return undefined;
  return { rows, cols, b: "row", swap: false, tile };
}

/** Rows of up to WIDE elements (a power of two), or undefined if < 8. */
function flat(size: number, b: "same" | "scalar"): BinaryPlan | undefined {
  let cols = 1;
  while (cols < WIDE && size % (2 * cols) === 0) cols *= 2;
  if (cols < 8) return undefined;
  return { rows: size / cols, cols, b, swap: false, tile: 1 };
}

/** a op b in float32 through oneDNN, or undefined; see the module notes. */
export function binary(
  ctx: ChannelContext,
  backend: WasmBackend,
  op: BinaryOp,
  a: tf.TensorInfo,
  b: tf.TensorInfo | number,
  commutative: boolean,
): tf.TensorInfo | undefined {
  const dnnl = ctx.dnnl;
  if (dnnl === undefined || a.dtype !== "float32") return undefined;
  if (typeof b !== "number" && b.dtype !== "float32") return undefined;
  const bShape = typeof b === "number" ? [] : b.shape;
  const outShape = broadcastShape(a.shape, bShape);
  if (outShape === undefined) return undefined;
  if (tf.util.sizeFromShape(outShape) < ctx.minSize) return undefined;
  const plan = planBinary(a.shape, bShape, commutative);
  if (plan === undefined) return undefined;

  const out = backend.makeOutput(outShape, "float32");
  const [first, second] = plan.swap ? [b as tf.TensorInfo, a] : [a, b];
  const av = heapView(backend, first);
  let bv = typeof second === "number"
    ? Float32Array.of(second)
    : heapView(backend, second);
  if (plan.tile > 1) {
    const tiled = new Float32Array(plan.cols);
    for (let k = 0; k < plan.tile; k++) tiled.set(bv, k * bv.length);
    bv = tiled;
  }
  const ov = heapView(backend, out);
  if (!dnnl.binary(op, plan.rows, plan.cols, plan.b, av, bv, ov)) {
    backend.disposeData(out.dataId);
    return undefined;
  }
  return out;
}

function broadcastShape(a: number[], b: number[]): number[] | undefined {
  try {
    return tf.backend_util.assertAndGetBroadcastShape(a, b);
  } catch {
    return undefined;
  }
}

/** The inputs of FusedBatchNorm, by their tfjs names. */
export interface BatchNormInputs {
  x: tf.TensorInfo;
  mean: tf.TensorInfo;
  variance: tf.TensorInfo;
  offset?: tf.TensorInfo | null;
  scale?: tf.TensorInfo | null;
}

/**
 * FusedBatchNorm, y = (x - mean) / sqrt(variance + epsilon) * scale +
 * offset, for a float32 x of rank 4 (tfjs reshapes to it) with one value
 * (or a scalar) per channel of each of the others; undefined otherwise.
 */
export function batchNorm(
  ctx: ChannelContext,
  backend: WasmBackend,
  inputs: BatchNormInputs,
  epsilon: number,
): tf.TensorInfo | undefined {
  const { x } = inputs;
  const dnnl = ctx.dnnl;
  if (dnnl === undefined || x.dtype !== "float32" || x.shape.length !== 4) {
    return undefined;
  }
  const size = tf.util.sizeFromShape(x.shape);
  if (size < ctx.minSize) return undefined;
  const channels = x.shape[3];
  const parts = [inputs.mean, inputs.variance, inputs.scale, inputs.offset];
  for (const part of parts) {
    if (part == null) continue;
    const n = tf.util.sizeFromShape(part.shape);
    if (part.dtype !== "float32" || (n !== channels && n !== 1)) {
      return undefined;
    }
  }
  const out = backend.makeOutput(x.shape, "float32");
  const perChannel = (t: tf.TensorInfo | null | undefined, absent: number) => {
    if (t == null) return new Float32Array(channels).fill(absent);
    const view = heapView(backend, t);
    return view.length === channels
      ? view
      : new Float32Array(channels).fill(view[0]);
  };
  const stats: BatchNormStats = {
    mean: perChannel(inputs.mean, 0),
    variance: perChannel(inputs.variance, 1),
    scale: perChannel(inputs.scale, 1),
    offset: perChannel(inputs.offset, 0),
  };
  const shape = x.shape as [number, number, number, number];
  const xv = heapView(backend, x);
  const yv = heapView(backend, out);
  if (!dnnl.batchNorm(shape, epsilon, xv, stats, yv)) {
    backend.disposeData(out.dataId);
    return undefined;
  }
  return out;
}

/** The inputs of fisherlab's training-mode batch-norm kernels. */
export interface BatchNormTrainingInputs {
  x: tf.TensorInfo;
  scale: tf.TensorInfo;
  offset: tf.TensorInfo;
  dy?: tf.TensorInfo;
  mean?: tf.TensorInfo;
  variance?: tf.TensorInfo;
}

/** Whether x is float32 NHWC with float32 per-channel `parts`. */
function perChannelNhwc(
  x: tf.TensorInfo,
  parts: (tf.TensorInfo | undefined)[],
): x is tf.TensorInfo & { shape: [number, number, number, number] } {
  if (x.dtype !== "float32" || x.shape.length !== 4) return false;
  const channels = x.shape[3];
  return parts.every((p) =>
    p !== undefined && p.dtype === "float32" &&
    tf.util.sizeFromShape(p.shape) === channels
  );
}

/**
 * Batch normalization with the batch's statistics: [y, mean, variance]
 * for an NHWC x and per-channel scale and offset, by oneDNN's
 * forward-training primitive; undefined without oneDNN or a primitive.
 */
export function batchNormTraining(
  ctx: ChannelContext,
  backend: WasmBackend,
  inputs: BatchNormTrainingInputs,
  epsilon: number,
): tf.TensorInfo[] | undefined {
  const { x, scale, offset } = inputs;
  const dnnl = ctx.dnnl;
  if (!dnnl || !perChannelNhwc(x, [scale, offset])) return undefined;
  const channels = x.shape[3];
  const y = backend.makeOutput(x.shape, "float32");
  const mean = backend.makeOutput([channels], "float32");
  const variance = backend.makeOutput([channels], "float32");
  const outputs = [y, mean, variance];
  // Views after the last allocation: the memory may have grown.
  const stats: BatchNormStats = {
    mean: heapView(backend, mean),
    variance: heapView(backend, variance),
    scale: heapView(backend, scale),
    offset: heapView(backend, offset),
  };
  const done = dnnl.batchNormTraining(
    x.shape,
    epsilon,
    heapView(backend, x),
    stats,
    heapView(backend, y),
  );
  return done ? outputs : discard(backend, outputs);
}

/**
 * The gradient of {@linkcode batchNormTraining}: [dx, dscale, doffset]
 * from dy, x, the scale and offset, and the mean and variance it wrote,
 * by oneDNN's backward primitive; undefined as above.
 */
export function batchNormTrainingGrad(
  ctx: ChannelContext,
  backend: WasmBackend,
  inputs: BatchNormTrainingInputs,
  epsilon: number,
): tf.TensorInfo[] | undefined {
  const { x, scale, offset, dy, mean, variance } = inputs;
  const dnnl = ctx.dnnl;
  if (!dnnl || !perChannelNhwc(x, [scale, offset, mean, variance])) {
    return undefined;
  }
  if (dy === undefined || dy.dtype !== "float32") return undefined;
  if (!tf.util.arraysEqual(dy.shape, x.shape)) return undefined;
  const channels = x.shape[3];
  const dx = backend.makeOutput(x.shape, "float32");
  const dScale = backend.makeOutput([channels], "float32");
  const dOffset = backend.makeOutput([channels], "float32");
  const outputs = [dx, dScale, dOffset];
  const grads: BatchNormGrads = {
    dx: heapView(backend, dx),
    dScale: heapView(backend, dScale),
    dOffset: heapView(backend, dOffset),
  };
  const stats: BatchNormStats = {
    mean: heapView(backend, mean!),
    variance: heapView(backend, variance!),
    scale: heapView(backend, scale),
    offset: heapView(backend, offset),
  };
  const done = dnnl.batchNormBackward(
    x.shape,
    epsilon,
    heapView(backend, x),
    stats,
    heapView(backend, dy),
    grads,
  );
  return done ? outputs : discard(backend, outputs);
}

function discard(backend: WasmBackend, outputs: tf.TensorInfo[]): undefined {
  for (const t of outputs) backend.disposeData(t.dataId);
  return undefined;
}

/** Rows summed in float32 before the block is added in float64. */
const BLOCK_ROWS = 64;

/**
 * The sums (or means) of the `n` columns of the `m` x `n` row-major matrix
 * that `x` holds, into `out` (n floats), with `colsum`; or of each of
 * `blocks` such matrices one after another in `x`, into `blocks` rows of n
 * in `out`. False when the rows cannot be made a multiple of 4 floats
 * wide.
 *
 * Rows are first paired up (a row of n is as fast to add as a row of
 * 64), then summed in blocks of BLOCK_ROWS into a float32 accumulator
 * that each block adds to float64 totals.
 */
export function columnSums(
  backend: WasmBackend,
  colsum: ColumnSum4,
  x: tf.TensorInfo,
  m: number,
  n: number,
  mean: boolean,
  out: tf.TensorInfo,
  blocks = 1,
): boolean {
  let tile = 1;
  while (n * tile < 64 && m % (2 * tile) === 0) tile *= 2;
  const cols = n * tile;
  const rows = m / tile;
  if (cols % 4 !== 0) return false;
  const acc = backend.makeOutput([cols], "float32");
  const at = (t: tf.TensorInfo) =>
    backend.dataIdMap.get(t.dataId)!.memoryOffset!;
  const accView = heapView(backend, acc);
  const y = heapView(backend, out);
  const totals = new Float64Array(cols);
  const accAt = at(acc);
  const scale = mean ? 1 / m : 1;
  for (let b = 0; b < blocks; b++) {
    const base = at(x) + 4 * b * m * n;
    totals.fill(0);
    for (let first = 0; first < rows; first += BLOCK_ROWS) {
      const count = Math.min(BLOCK_ROWS, rows - first);
      accView.fill(0);
      colsum(base + 4 * first * cols, accAt, count, cols / 4);
      for (let j = 0; j < cols; j++) totals[j] += accView[j];
    }
    for (let j = 0; j < n; j++) {
      let total = 0;
      for (let k = 0; k < tile; k++) total += totals[k * n + j];
      y[b * n + j] = total * scale;
    }
  }
  backend.disposeData(acc.dataId);
  return true;
}

/**
 * Sum (or mean) of float32 `x` over a run of consecutive middle axes (not
 * the first, not the last): x as blocks of m rows (the summed axes) by n
 * columns (the trailing axes), each reduced by {@linkcode columnSums};
 * undefined for other axes, other dtypes, or rows that are not a multiple
 * of 4 floats. The stock wasm kernel transposes the summed axes to the end
 * first: on 30 x 1024 x 16 over axis 1, 1.9 ms, against 0.45 ms for a
 * product with ones and 0.11 ms here.
 */
export function middleAxesSum(
  backend: WasmBackend,
  colsum: ColumnSum4,
  x: tf.TensorInfo,
  axes: readonly number[],
  keepDims: boolean,
  mean: boolean,
): tf.TensorInfo | undefined {
  const shape = x.shape;
  if (x.dtype !== "float32" || axes.length === 0) return undefined;
  const sorted = [...new Set(axes)].sort((a, b) => a - b);
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  if (first === 0 || last === shape.length - 1) return undefined;
  if (last - first + 1 !== sorted.length) return undefined;
  const blocks = tf.util.sizeFromShape(shape.slice(0, first));
  const m = tf.util.sizeFromShape(shape.slice(first, last + 1));
  const n = tf.util.sizeFromShape(shape.slice(last + 1));
  if (n % 4 !== 0 || blocks * m * n === 0) return undefined;
  const outShape = keepDims
    ? shape.map((d, i) => sorted.includes(i) ? 1 : d)
    : shape.filter((_, i) => !sorted.includes(i));
  const out = backend.makeOutput(outShape, "float32");
  if (columnSums(backend, colsum, x, m, n, mean, out, blocks)) return out;
  backend.disposeData(out.dataId);
  return undefined;
}
