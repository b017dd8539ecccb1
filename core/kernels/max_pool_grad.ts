/**
 * Max-pool gradient kernels for backends whose data can be read
 * synchronously (wasm, cpu): MaxPoolGrad, which routes each dy to its
 * window's first maximum (the rule of tfjs's cpu reference), and its adjoint
 * PickAtArgmax, which reads an input-shaped tensor at those maxima. Both
 * find the maxima in one pass over the windows.
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
  return withViews(backend, x, dy, x.shape, (xs, dys, dx, fresh) => {
    if (!fresh) dx.fill(0);
    const at = firstMaxima(xs, info);
    for (let o = 0; o < at.length; o++) {
      if (at[o] >= 0) dx[at[o]] += dys[o];
    }
  });
}

/**
 * The adjoint of {@linkcode maxPoolGrad} in dy: for each window o of x,
 * `u` at the window's first maximum (zero when no tap inside x beats
 * -Infinity). `u` has x's shape; the result has the pool's output shape.
 * This is the derivative of MaxPoolGrad with respect to its dy, the step
 * second derivatives through max pooling take.
 */
export function pickAtMaxima(
  backend: tf.KernelBackend,
  x: Info,
  u: Info,
  attrs: PoolAttrs,
): Info {
  const info = poolInfo(x.shape, attrs);
  const [n, , , c] = x.shape;
  const outShape = [n, info.outHeight, info.outWidth, c];
  return withViews(backend, x, u, outShape, (xs, us, out) => {
    const at = firstMaxima(xs, info);
    for (let o = 0; o < at.length; o++) out[o] = at[o] >= 0 ? us[at[o]] : 0;
  });
}

/**
 * Runs `fill(a, b, out, fresh)` on float32 views of two inputs and a new
 * output of shape `outShape`: in place on wasm's heap, through copies on
 * cpu. `fresh` says the output already holds zeros.
 */
function withViews(
  backend: tf.KernelBackend,
  a: Info,
  b: Info,
  outShape: number[],
  fill: (
    a: Float32Array,
    b: Float32Array,
    out: Float32Array,
    fresh: boolean,
  ) => void,
): Info {
  const wasm = backend as unknown as Partial<WasmLike>;
  if (wasm.makeOutput && wasm.typedArrayFromHeap) {
    // Views are taken after makeOutput, which may grow (and move) memory.
    const out = wasm.makeOutput(outShape, "float32");
    fill(
      wasm.typedArrayFromHeap(a),
      wasm.typedArrayFromHeap(b),
      wasm.typedArrayFromHeap(out),
      false,
    );
    return out;
  }
  const values = new Float32Array(outShape.reduce((p, q) => p * q, 1));
  fill(
    backend.readSync(a.dataId) as Float32Array,
    backend.readSync(b.dataId) as Float32Array,
    values,
    true,
  );
  return (backend as unknown as CpuLike).makeTensorInfo(
    outShape,
    "float32",
    values,
  );
}

/**
 * For each window (output element, NHWC order), the flat index in x of its
 * first maximum in row-major tap order, or -1 when no tap inside x is above
 * -Infinity (all-padding windows, or only -Infinity and NaN).
 */
function firstMaxima(xs: Float32Array, info: Geometry): Int32Array {
  const [n, , , c] = info.inShape;
  const at = new Int32Array(n * info.outHeight * info.outWidth * c);
  if (tiles2x2(info)) tileMaxima(xs, at, info);
  else tapMaxima(xs, at, info);
  return at;
}

/** True for 2x2 windows at stride 2 that cover x once, unpadded. */
function tiles2x2(info: Geometry): boolean {
  const [, h, w] = info.inShape;
  return info.filterHeight === 2 && info.filterWidth === 2 &&
    info.strideHeight === 2 && info.strideWidth === 2 &&
    info.padInfo.top === 0 && info.padInfo.left === 0 &&
    2 * info.outHeight === h && 2 * info.outWidth === w;
}

/**
 * 2x2 windows at stride 2, without branches on the data (a branch per tap
 * mispredicts half the time on real activations): the first maximum is
 * found from the six pairwise comparisons. Windows whose first tap is NaN
 * or -Infinity, or with a NaN anywhere, take the plain scan.
 */
function tileMaxima(xs: Float32Array, at: Int32Array, info: Geometry): void {
  const [n, , w, c] = info.inShape;
  const { outHeight: ho, outWidth: wo } = info;
  const row = w * c;
  let o = 0;
  for (let i = 0; i < n * ho; i++) {
    for (let j = 0, p = 2 * i * row; j < wo; j++, p += c) {
      for (let d = 0; d < c; d++, o++, p++) {
        const v0 = xs[p];
        const v1 = xs[p + c];
        const v2 = xs[p + row];
        const v3 = xs[p + row + c];
        if (!(v0 > -Infinity && v1 === v1 && v2 === v2 && v3 === v3)) {
          at[o] = scanTile(xs, p, c, row);
          continue;
        }
        // Tap k wins when it is above every earlier tap and not below any
        // later one.
        const a10 = +(v1 > v0);
        const a20 = +(v2 > v0);
        const a30 = +(v3 > v0);
        const a21 = +(v2 > v1);
        const a31 = +(v3 > v1);
        const a32 = +(v3 > v2);
        const is1 = a10 & (a21 ^ 1) & (a31 ^ 1);
        const is2 = a20 & a21 & (a32 ^ 1);
        const is3 = a30 & a31 & a32;
        at[o] = p + is1 * c + is2 * row + is3 * (row + c);
      }
    }
  }
}

/** The plain first-maximum scan of one 2x2 window at `p`; -1 if none. */
function scanTile(xs: Float32Array, p: number, c: number, row: number): number {
  let best = -Infinity;
  let at = -1;
  for (const k of [p, p + c, p + row, p + row + c]) {
    if (xs[k] > best) (best = xs[k]), (at = k);
  }
  return at;
}

/**
 * Any window: per output pixel, the taps inside x in row-major order, each
 * compared over all channels at once (contiguous reads).
 */
function tapMaxima(xs: Float32Array, at: Int32Array, info: Geometry): void {
  const [n, h, w, c] = info.inShape;
  const { outHeight: ho, outWidth: wo, filterHeight, filterWidth } = info;
  const best = new Float32Array(c);
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < ho; i++) {
      const r0 = i * info.strideHeight - info.padInfo.top;
      const r1 = Math.min(h, r0 + filterHeight);
      for (let j = 0; j < wo; j++, o += c) {
        const c0 = j * info.strideWidth - info.padInfo.left;
        const c1 = Math.min(w, c0 + filterWidth);
        best.fill(-Infinity);
        at.fill(-1, o, o + c);
        for (let r = Math.max(0, r0); r < r1; r++) {
          for (let q = Math.max(0, c0); q < c1; q++) {
            const tap = ((b * h + r) * w + q) * c;
            for (let d = 0; d < c; d++) {
              const v = xs[tap + d];
              if (v > best[d]) (best[d] = v), (at[o + d] = tap + d);
            }
          }
        }
      }
    }
  }
}

/**
 * The kernel config of `FisherlabPickAtArgmax` (see gradients.ts) for
 * `backendName`, wasm or cpu.
 */
export function pickKernelConfig(
  kernelName: string,
  backendName: string,
): tf.KernelConfig {
  return {
    kernelName,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) =>
      pickAtMaxima(
        backend as tf.KernelBackend,
        inputs.x as Info,
        inputs.u as Info,
        attrs as unknown as PoolAttrs,
      ),
  };
}
