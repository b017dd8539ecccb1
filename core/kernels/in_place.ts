/**
 * Updating a tensor's data in place on the wasm backend, for optimizers.
 *
 * An SGD update written with ops, `p.assign(tf.sub(p, tf.mul(g, lr)))`,
 * runs two kernels per weight, allocates two tensors of the weight's size
 * and streams it through memory three times; for a small net these passes
 * and the engine's work per op are a visible part of a step. Written in
 * place it is one SIMD pass and no op at all.
 *
 * In place is only safe when nothing else sees the data: tfjs shares one
 * buffer between a tensor and its clones and reshapes (the backend counts
 * them), so a buffer counted more than once is left alone and the caller
 * falls back to ops.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { isWasmBackend, type WasmBackend } from "../native/_wasm_heap.ts";
import { wasmCodeFor } from "../native/_wasm_code.ts";

interface Counted {
  refCount(dataId: object): number;
}

/**
 * y = a x + b y, written into y's own buffer; true when done, false (and
 * y untouched) when it cannot be done in place: not the wasm backend,
 * not float32, sizes differ, x is y, or y's buffer is shared with another
 * tensor. The result equals tf.add(tf.mul(x, a), tf.mul(y, b)) bit for bit,
 * a and b rounded to float32 as tfjs rounds a number operand.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { axpbyInPlace } from "./in_place.ts";
 * const y = tf.variable(tf.tensor1d([1, 2, 3, 4, 5]));
 * if (axpbyInPlace(y, tf.ones([5]), -0.5, 1)) {
 *   console.assert(y.dataSync()[4] === 4.5);
 * }
 * ```
 */
export function axpbyInPlace(
  y: tf.Tensor,
  x: tf.Tensor,
  a: number,
  b: number,
): boolean {
  const backend = tf.backend();
  if (
    !isWasmBackend(backend) || y.dtype !== "float32" ||
    x.dtype !== "float32" || y.size !== x.size || y.dataId === x.dataId ||
    y.isDisposed || x.isDisposed
  ) {
    return false;
  }
  const code = wasmCodeFor(backend);
  const yAt = offset(backend, y);
  const xAt = offset(backend, x);
  if (
    code === undefined || yAt === undefined || xAt === undefined ||
    (backend as unknown as Counted).refCount(y.dataId) !== 1
  ) {
    return false;
  }
  const groups = y.size >> 2;
  code.axpby(xAt, yAt, groups, a, b);
  const done = groups * 4;
  if (done < y.size) {
    // The last 1-3 entries: float32 products and sum, as the SIMD pass.
    const heap = backend.wasm.HEAPU8.buffer;
    const yv = new Float32Array(heap, yAt, y.size);
    const xv = new Float32Array(heap, xAt, x.size);
    const fa = Math.fround(a);
    const fb = Math.fround(b);
    for (let i = done; i < y.size; i++) {
      yv[i] = Math.fround(Math.fround(fa * xv[i]) + Math.fround(fb * yv[i]));
    }
  }
  return true;
}

/** The byte offset of `t`'s data in the wasm memory, if it lives there. */
function offset(backend: WasmBackend, t: tf.Tensor): number | undefined {
  return backend.dataIdMap.get(t.dataId)?.memoryOffset ?? undefined;
}
