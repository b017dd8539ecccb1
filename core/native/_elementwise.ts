/**
 * Elementwise and copying kernels for the wasm backend, in place on its
 * memory: the ones the gradient of max pooling (a chain of Greater, Select,
 * PadV2 and Slice per window tap) spends its time in. Each returns
 * undefined for what it does not handle (broadcasting, other dtypes), for
 * the caller to fall back on.
 *
 * Select and Greater avoid branches on the data: a branch per element
 * mispredicts half the time on real activations, which is most of the wasm
 * kernels' cost. Given the hand-assembled SIMD functions of _wasm_code.ts
 * they run those (4 and 16 elements a step), the tail in JavaScript.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { WasmBackend } from "./_wasm_heap.ts";
import type { CopyRuns, Greater16, Select4 } from "./_wasm_code.ts";

/** The inputs these kernels read, by their tfjs names. */
export interface ElementwiseInputs {
  condition: tf.TensorInfo;
  t: tf.TensorInfo;
  e: tf.TensorInfo;
  a: tf.TensorInfo;
  b: tf.TensorInfo;
  x: tf.TensorInfo;
}

/** The attributes these kernels read, by their tfjs names. */
export interface ElementwiseAttrs {
  paddings?: [number, number][];
  constantValue?: number;
}

/** The wasm memory offset of `t`'s data, in bytes. */
function offsetOf(backend: WasmBackend, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId)!.memoryOffset!;
}

function int32View(backend: WasmBackend, t: tf.TensorInfo): Int32Array {
  const size = tf.util.sizeFromShape(t.shape);
  const buffer = backend.wasm.HEAPU8.buffer;
  return new Int32Array(buffer, offsetOf(backend, t), size);
}

function float32View(backend: WasmBackend, t: tf.TensorInfo): Float32Array {
  const size = tf.util.sizeFromShape(t.shape);
  const buffer = backend.wasm.HEAPU8.buffer;
  return new Float32Array(buffer, offsetOf(backend, t), size);
}

function uint8View(backend: WasmBackend, t: tf.TensorInfo): Uint8Array {
  const size = tf.util.sizeFromShape(t.shape);
  const buffer = backend.wasm.HEAPU8.buffer;
  return new Uint8Array(buffer, offsetOf(backend, t), size);
}

const WORD_TYPES = new Set(["float32", "int32"]);

/**
 * where(condition, t, e) for a condition of t's shape and 4-byte t and e:
 * the bits of t or e chosen with a mask, so NaNs and signed zeros pass
 * through unchanged.
 */
export function select(
  backend: WasmBackend,
  inputs: ElementwiseInputs,
  { minSize, simd }: { minSize: number; simd?: Select4 },
): tf.TensorInfo | undefined {
  const { condition, t, e } = inputs;
  const size = tf.util.sizeFromShape(t.shape);
  if (size < minSize || !WORD_TYPES.has(t.dtype) || e.dtype !== t.dtype) {
    return undefined;
  }
  if (condition.dtype !== "bool") return undefined;
  const same = (s: number[]) => tf.util.arraysEqual(s, t.shape);
  if (!same(condition.shape) || !same(e.shape)) return undefined;

  const out = backend.makeOutput(t.shape, t.dtype);
  const c = uint8View(backend, condition);
  const tv = int32View(backend, t);
  const ev = int32View(backend, e);
  const ov = int32View(backend, out);
  let first = 0;
  if (simd) {
    first = size - size % 4;
    const at = (t: tf.TensorInfo) => offsetOf(backend, t);
    simd(at(condition), at(t), at(e), at(out), first / 4);
  }
  for (let i = first; i < size; i++) {
    const mask = -+(c[i] !== 0);
    ov[i] = ev[i] ^ ((tv[i] ^ ev[i]) & mask);
  }
  return out;
}

/** a > b for float32 a and b of one shape; false where either is NaN. */
export function greater(
  backend: WasmBackend,
  inputs: ElementwiseInputs,
  { minSize, simd }: { minSize: number; simd?: Greater16 },
): tf.TensorInfo | undefined {
  const { a, b } = inputs;
  const size = tf.util.sizeFromShape(a.shape);
  if (size < minSize || a.dtype !== "float32" || b.dtype !== "float32") {
    return undefined;
  }
  if (!tf.util.arraysEqual(a.shape, b.shape)) return undefined;

  const out = backend.makeOutput(a.shape, "bool");
  const av = float32View(backend, a);
  const bv = float32View(backend, b);
  const ov = uint8View(backend, out);
  let first = 0;
  if (simd) {
    first = size - size % 16;
    const at = (t: tf.TensorInfo) => offsetOf(backend, t);
    simd(at(a), at(b), at(out), first / 16);
  }
  for (let i = first; i < size; i++) ov[i] = +(av[i] > bv[i]);
  return out;
}

/**
 * Constant padding of a float32 or int32 tensor of any rank: the output is
 * filled with the constant, then x is copied in, one contiguous run per
 * index of the axes before the last padded one.
 */
export function padV2(
  backend: WasmBackend,
  inputs: ElementwiseInputs,
  attrs: ElementwiseAttrs,
  { minSize, copy }: { minSize: number; copy?: CopyRuns },
): tf.TensorInfo | undefined {
  const { x } = inputs;
  const paddings = attrs.paddings;
  const shape = x.shape;
  const size = tf.util.sizeFromShape(shape);
  if (size < minSize || !WORD_TYPES.has(x.dtype)) return undefined;
  if (paddings === undefined || paddings.length !== shape.length) {
    return undefined;
  }
  if (paddings.flat().some((p) => p < 0)) return undefined;

  const outShape = shape.map((d, i) => d + paddings[i][0] + paddings[i][1]);
  const out = backend.makeOutput(outShape, x.dtype);
  const value = attrs.constantValue ?? 0;
  const buffer = backend.wasm.HEAPU8.buffer;
  const heap = new Int32Array(buffer);
  const from = offsetOf(backend, x) / 4;
  const to = offsetOf(backend, out) / 4;
  const total = tf.util.sizeFromShape(outShape);
  if (x.dtype === "float32") {
    new Float32Array(buffer).fill(value, to, to + total);
  } else heap.fill(Math.trunc(value), to, to + total);
  if (size === 0) return out;

  let last = shape.length - 1;
  while (last > 0 && paddings[last][0] === 0 && paddings[last][1] === 0) {
    last--;
  }
  const run = tf.util.sizeFromShape(shape.slice(last));
  const outStrides = [...tf.util.computeStrides(outShape), 1];
  let base = to;
  for (let i = 0; i <= last; i++) base += paddings[i][0] * outStrides[i];
  const rows = { from, to: base, run, count: size / run };
  const outer = {
    shape: shape.slice(0, last),
    strides: outStrides.slice(0, last),
  };
  if (copy && last > 0) copyRowsInWasm(copy, rows, outer);
  else copyRows(heap, rows, outer);
  return out;
}

/** Where `count` runs of `run` words go. */
interface Rows {
  from: number;
  to: number;
  run: number;
  count: number;
}

/**
 * Copies consecutive runs of `heap` starting at `from` to the runs of an
 * array of shape `outer.shape` (strides `outer.strides`) starting at `to`.
 */
function copyRows(
  heap: Int32Array,
  { from, to, run, count }: Rows,
  outer: { shape: number[]; strides: number[] },
): void {
  const { shape, strides } = outer;
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  for (let r = 0, src = from, dst = to; r < count; r++, src += run) {
    copyWords(heap, src, dst, run);
    let i = rank - 1;
    for (; i >= 0; i--) {
      dst += strides[i];
      if (++index[i] < shape[i]) break;
      index[i] = 0;
      dst -= shape[i] * strides[i];
    }
  }
}

/**
 * {@linkcode copyRows} with the rows along the innermost outer axis copied
 * by one wasm call (a memory.copy each).
 */
function copyRowsInWasm(
  copy: CopyRuns,
  { from, to, run, count }: Rows,
  outer: { shape: number[]; strides: number[] },
): void {
  const rank = outer.shape.length;
  const inner = outer.shape[rank - 1];
  const step = outer.strides[rank - 1];
  const index = new Array<number>(rank - 1).fill(0);
  for (let r = 0, src = from, dst = to; r < count; r += inner) {
    copy(4 * src, 4 * dst, 4 * run, inner, 4 * run, 4 * step);
    src += inner * run;
    for (let i = rank - 2; i >= 0; i--) {
      dst += outer.strides[i];
      if (++index[i] < outer.shape[i]) break;
      index[i] = 0;
      dst -= outer.shape[i] * outer.strides[i];
    }
  }
}

/**
 * Copies `run` elements of `heap` from `src` to `dst` (not overlapping;
 * integer views, so that every bit pattern is kept):
 * copyWithin (a memmove) for long runs, a loop for short ones, where the
 * call costs more than the copy.
 */
export function copyWords(
  heap: Int32Array | Uint8Array,
  src: number,
  dst: number,
  run: number,
): void {
  if (run >= 48) heap.copyWithin(dst, src, src + run);
  else for (let i = 0; i < run; i++) heap[dst + i] = heap[src + i];
}

/**
 * Tile of a 4-byte tensor: each block of x is written once and then
 * doubled in place (copyWithin) until it is repeated as often as asked,
 * innermost repeated axis first; a broadcast of a per-channel vector over
 * a batch of images is one write and about 20 copies.
 */
export function tile(
  backend: WasmBackend,
  inputs: { x: tf.TensorInfo },
  attrs: { reps?: number[] },
  { minSize }: { minSize: number },
): tf.TensorInfo | undefined {
  const { x } = inputs;
  const reps = attrs.reps;
  const shape = x.shape;
  if (!WORD_TYPES.has(x.dtype) || reps === undefined) return undefined;
  if (reps.length !== shape.length || reps.some((r) => r < 1)) {
    return undefined;
  }
  const outShape = shape.map((d, i) => d * reps[i]);
  const total = tf.util.sizeFromShape(outShape);
  if (total < minSize || total === 0) return undefined;

  const out = backend.makeOutput(outShape, x.dtype);
  const heap = new Int32Array(backend.wasm.HEAPU8.buffer);
  const inStrides = [...tf.util.computeStrides(shape), 1];
  const outStrides = [...tf.util.computeStrides(outShape), 1];
  let last = reps.length - 1;
  while (last >= 0 && reps[last] === 1) last--;
  if (last < 0) {
    copyWords(
      heap,
      offsetOf(backend, x) / 4,
      offsetOf(backend, out) / 4,
      total,
    );
    return out;
  }
  // Fills the output block of axis `axis` at `to` from the input at `from`.
  const fill = (axis: number, from: number, to: number): void => {
    if (axis === last) {
      const run = shape[axis] * inStrides[axis];
      copyWords(heap, from, to, run);
      repeat(heap, to, run, reps[axis]);
      return;
    }
    for (let i = 0; i < shape[axis]; i++) {
      fill(axis + 1, from + i * inStrides[axis], to + i * outStrides[axis]);
    }
    repeat(heap, to, shape[axis] * outStrides[axis], reps[axis]);
  };
  fill(0, offsetOf(backend, x) / 4, offsetOf(backend, out) / 4);
  return out;
}

/** Repeats heap[at, at + run) `times` times in place, doubling. */
function repeat(heap: Int32Array, at: number, run: number, times: number) {
  const total = run * times;
  for (let done = run; done < total;) {
    const n = Math.min(done, total - done);
    heap.copyWithin(at + done, at, at + n);
    done += n;
  }
}
