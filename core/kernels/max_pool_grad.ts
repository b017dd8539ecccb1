/**
 * A MaxPoolGrad kernel for backends whose data can be read synchronously
 * (wasm, cpu). It routes each dy to its window's first maximum, the rule of
 * tfjs's cpu reference, in one pass over the windows.
 *
 * @module
 */
import type { tf } from "../tf.ts";
import { type PoolAttrs, poolInfo } from "./_pool_geometry.ts";

type Info = tf.TensorInfo;
type Geometry = tf.backend_util.Conv2DInfo;

interface WasmLike {
  makeOutput(shape: number[], dtype: "float32"): Info;
  typedArrayFromHeap(info: Info): Float32Array;
}

interface CpuLike {
  makeTensorInfo(shape: number[], dtype: "float32", values: Float32Array): Info;
}

/**
 * dx for y = maxPool(x): dx[argmax of window o] += dy[o], ties going to the
 * first maximum in row-major window order, taps outside x ignored. On wasm
 * it reads and writes the backend's memory in place.
 */
export function maxPoolGrad(
  backend: tf.KernelBackend,
  dy: Info,
  x: Info,
  attrs: PoolAttrs,
): Info {
  const info = poolInfo(x.shape, attrs);
  const wasm = backend as unknown as Partial<WasmLike>;
  if (wasm.makeOutput && wasm.typedArrayFromHeap) {
    // Views are taken after makeOutput, which may grow (and move) memory.
    const out = wasm.makeOutput(x.shape, "float32");
    const dx = wasm.typedArrayFromHeap(out);
    dx.fill(0);
    route(
      wasm.typedArrayFromHeap(x),
      wasm.typedArrayFromHeap(dy),
      dx,
      info,
    );
    return out;
  }
  const dx = new Float32Array(info.inShape.reduce((a, b) => a * b, 1));
  route(
    backend.readSync(x.dataId) as Float32Array,
    backend.readSync(dy.dataId) as Float32Array,
    dx,
    info,
  );
  return (backend as unknown as CpuLike).makeTensorInfo(
    x.shape,
    "float32",
    dx,
  );
}

/** Adds each dy into dx at its window's first maximum of x. */
function route(
  xs: Float32Array,
  dys: Float32Array,
  dx: Float32Array,
  info: Geometry,
): void {
  const [n, h, w, c] = info.inShape;
  const { outHeight: ho, outWidth: wo, filterHeight, filterWidth } = info;
  const taps = new Int32Array(filterHeight * filterWidth);
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho; i++) {
      const r0 = i * info.strideHeight - info.padInfo.top;
      const r1 = Math.min(h, r0 + filterHeight);
      for (let j = 0; j < wo; j++, o += c) {
        const c0 = j * info.strideWidth - info.padInfo.left;
        const c1 = Math.min(w, c0 + filterWidth);
        let count = 0;
        for (let r = Math.max(0, r0); r < r1; r++) {
          for (let q = Math.max(0, c0); q < c1; q++) {
            taps[count++] = ((b * h + r) * w + q) * c;
          }
        }
        for (let d = 0; d < c; d++) {
          let at = -1;
          let best = -Infinity;
          for (let t = 0; t < count; t++) {
            const k = taps[t] + d;
            const v = xs[k];
            const above = v > best;
            at = above ? k : at;
            best = above ? v : best;
          }
          if (at >= 0) dx[at] += dys[o + d];
        }
      }
    }
  }
}
