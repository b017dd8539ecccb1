/**
 * A MaxPoolGrad kernel for backends whose data can be read synchronously
 * (wasm). It routes each dy to its window's first maximum, the rule of tfjs's
 * cpu reference, in one pass over the windows.
 *
 * @module
 */
import type { tf } from "../tf.ts";
import { type PoolAttrs, poolInfo } from "./_pool_geometry.ts";

type Info = tf.TensorInfo;

/**
 * dx for y = maxPool(x): dx[argmax of window o] += dy[o], ties going to the
 * first maximum in row-major window order, taps outside x ignored.
 */
export function maxPoolGrad(
  backend: tf.KernelBackend,
  dy: Info,
  x: Info,
  attrs: PoolAttrs,
): Info {
  const info = poolInfo(x.shape, attrs);
  const xs = backend.readSync(x.dataId) as Float32Array;
  const dys = backend.readSync(dy.dataId) as Float32Array;
  const dx = new Float32Array(xs.length);
  const [n, h, w, c] = x.shape;
  const { outHeight: ho, outWidth: wo } = info;
  const best = new Float32Array(c);
  const where = new Int32Array(c);
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho; i++) {
      const r0 = i * info.strideHeight - info.padInfo.top;
      const r1 = Math.min(h, r0 + info.filterHeight);
      for (let j = 0; j < wo; j++, o += c) {
        const c0 = j * info.strideWidth - info.padInfo.left;
        const c1 = Math.min(w, c0 + info.filterWidth);
        best.fill(-Infinity);
        where.fill(-1);
        for (let r = Math.max(0, r0); r < r1; r++) {
          for (let q = Math.max(0, c0); q < c1; q++) {
            const base = ((b * h + r) * w + q) * c;
            for (let d = 0; d < c; d++) {
              if (xs[base + d] > best[d]) {
                best[d] = xs[base + d];
                where[d] = base + d;
              }
            }
          }
        }
        for (let d = 0; d < c; d++) {
          if (where[d] >= 0) dx[where[d]] += dys[o + d];
        }
      }
    }
  }
  return fromValues(backend, x.shape, dx);
}

interface WasmLike {
  makeOutput(shape: number[], dtype: "float32"): Info;
  typedArrayFromHeap(info: Info): Float32Array;
}

interface CpuLike {
  makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): Info;
}

/** A new float32 TensorInfo holding `values`, on wasm or cpu. */
function fromValues(
  backend: tf.KernelBackend,
  shape: number[],
  values: Float32Array,
): Info {
  const wasm = backend as unknown as Partial<WasmLike>;
  if (wasm.makeOutput && wasm.typedArrayFromHeap) {
    const out = wasm.makeOutput(shape, "float32");
    wasm.typedArrayFromHeap(out).set(values);
    return out;
  }
  return (backend as unknown as CpuLike).makeTensorInfo(
    shape,
    "float32",
    values,
  );
}
