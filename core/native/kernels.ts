/**
 * Native kernels for the tfjs wasm backend: matrix products and 2-D
 * convolutions (forward, and the two backward kernels) run through an
 * sgemm, and convolutions and the heavier elementwise kernels through
 * oneDNN, reading and writing the wasm backend's tensors in place.
 *
 * The sgemm is oneDNN's own when oneDNN loads, otherwise the system
 * BLAS's (OpenBLAS, Accelerate). One library means one pool of threads:
 * with OpenBLAS's pthreads beside oneDNN's OpenMP threads, each pool spun
 * while the other worked, and on two cores an MLP step took 2 to 8 times
 * as long (`products: "blas"` still chooses that pairing).
 *
 * Only kernels are replaced, not gradients, so everything built on the
 * registered gradients (second derivatives included) keeps working and
 * simply runs faster. A call the native kernel does not handle (another
 * dtype, NCHW, PReLU, a product too small to gain) goes to the kernel that
 * was registered before.
 *
 * - BatchMatMul, _FusedMatMul: one sgemm per batch entry (bias and
 *   activation applied in place).
 * - Conv2D, FusedConv2D: im2col, then one sgemm; the column matrix is kept
 *   (LRU) for the filter gradient of the same input.
 * - Conv2DBackpropFilter: col^T dy, one sgemm, reusing the forward's
 *   columns when cached.
 * - FisherlabConvFilterRowNorms (kernels/conv_row_norms.ts): each row's
 *   own filter gradient as above at batch 1, and its sum of squares.
 * - Conv2DBackpropInput: stride 1, one sgemm per filter tap on a padded
 *   layout; other strides, dy W^T then col2im.
 * - Sum and Mean over leading or trailing axes: one sgemv (wasm transposes
 *   first), or for leading axes the SIMD column sums below (middle axes go
 *   to fisherlab's wasm kernel, kernels/wasm.ts).
 * - Slice: copied in place, one wasm memory.copy per contiguous run (wasm
 *   copies all of x out of its memory first, and above rank 4 then goes
 *   element by element).
 * - Identity: shares the data, as the cpu backend does (wasm copies it).
 *   tfjs clones every tensor a gradient saves, so this saves a copy per
 *   saved tensor and lets the filter gradient find the forward's columns.
 * - Cast to the same dtype: shares the data too (every ReLU gradient casts
 *   its float32 step to float32, which wasm copies).
 * - MaxPoolGrad, 2x2 windows at stride 2 tiling x, channels a multiple of
 *   4: one WebAssembly SIMD pass on the backend's memory, four times the
 *   JavaScript kernel's speed (ties to the first maximum, as it does).
 * - FisherlabPickAtArgmax (fisherlab's kernel for MaxPoolGrad's own
 *   derivative, see kernels/gradients.ts), the same pools: its transpose,
 *   one SIMD pass.
 * - Select, Greater (same shapes): without branches on the data, which
 *   mispredict on real activations. With PadV2 (constant padding, copied
 *   in runs) and Slice, these are the second derivative through max
 *   pooling on pools the pick kernels do not cover.
 * - Multiply, Add, Sub, RealDiv, Neg, Square (same shapes, a per-channel
 *   operand, or a scalar) and FusedBatchNorm through oneDNN on two
 *   threads, when it loads; Sum and Mean over leading axes in SIMD column
 *   sums (_channel.ts): the batch-norm layers and their gradients.
 *
 * To turn it on with the wasm backend, after fisherlab's own wasm kernels
 * are installed (the first call opens the BLAS, about 10 ms; later calls
 * take under 1 ms):
 *
 * ```ts ignore
 * onBackendReady((name) => {
 *   if (name === "wasm") enableNativeKernels();
 * });
 * ```
 *
 * It needs `--allow-ffi` (part of `-A`); without it, or without a BLAS, it
 * changes nothing and its status says why.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { type Blas, type BlasResult, loadBlas } from "./blas.ts";
import { type Dnnl, dnnlBlas, type DnnlResult, loadDnnl } from "./dnnl.ts";
import {
  col2im,
  type ConvGeometry,
  convGeometry,
  geometryKey,
  im2col,
  isPointwise,
  patchSize,
} from "./_im2col.ts";
import { ColumnCache } from "./_column_cache.ts";
import {
  BATCH_NORM_TRAINING,
  BATCH_NORM_TRAINING_GRAD,
} from "../kernels/batch_norm_training.ts";
import { CONV_FILTER_ROW_NORMS } from "../kernels/conv_row_norms.ts";
import {
  batchNorm,
  type BatchNormInputs,
  batchNormTraining,
  batchNormTrainingGrad,
  type BatchNormTrainingInputs,
  binary,
  type ChannelContext,
  columnSums,
} from "./_channel.ts";
import { type CopyRuns, wasmCodeFor } from "./_wasm_code.ts";
import { type PadArg, poolInfo } from "../kernels/_pool_geometry.ts";
import {
  copyWords,
  type ElementwiseAttrs,
  type ElementwiseInputs,
  greater,
  padV2,
  select,
} from "./_elementwise.ts";
import {
  heapView,
  isWasmBackend,
  Scratch,
  type WasmBackend,
} from "./_wasm_heap.ts";

/** The kernels this pack can replace. */
export type NativeKernelName =
  | "BatchMatMul"
  | "_FusedMatMul"
  | "Conv2D"
  | "FusedConv2D"
  | "Conv2DBackpropInput"
  | "Conv2DBackpropFilter"
  | "Sum"
  | "Mean"
  | "Slice"
  | "Identity"
  | "Cast"
  | "MaxPoolGrad"
  | "FisherlabPickAtArgmax"
  | "Select"
  | "Greater"
  | "PadV2"
  | "Multiply"
  | "Add"
  | "Sub"
  | "RealDiv"
  | "Neg"
  | "Square"
  | "FusedBatchNorm"
  | typeof BATCH_NORM_TRAINING
  | typeof BATCH_NORM_TRAINING_GRAD
  | typeof CONV_FILTER_ROW_NORMS;

/** Every kernel this pack can replace. */
export const NATIVE_KERNELS: readonly NativeKernelName[] = [
  "BatchMatMul",
  "_FusedMatMul",
  "Conv2D",
  "FusedConv2D",
  "Conv2DBackpropInput",
  "Conv2DBackpropFilter",
  "Sum",
  "Mean",
  "Slice",
  "Identity",
  "Cast",
  "MaxPoolGrad",
  "FisherlabPickAtArgmax",
  "Select",
  "Greater",
  "PadV2",
  "Multiply",
  "Add",
  "Sub",
  "RealDiv",
  "Neg",
  "Square",
  "FusedBatchNorm",
  BATCH_NORM_TRAINING,
  BATCH_NORM_TRAINING_GRAD,
  CONV_FILTER_ROW_NORMS,
];

/** Kernels of this pack that only oneDNN computes, with no wasm original. */
const DNNL_ONLY: ReadonlySet<NativeKernelName> = new Set([
  BATCH_NORM_TRAINING,
  BATCH_NORM_TRAINING_GRAD,
]);

/** Options for {@linkcode enableNativeKernels}. */
export interface NativeKernelOptions {
  /**
   * The BLAS to call for matrix products. Default: as `products` says.
   */
  blas?: Blas;
  /**
   * Which library computes matrix products when `blas` is not given:
   * "auto" (default) oneDNN's sgemm when oneDNN loads, so that one pool of
   * threads runs every native kernel, else {@linkcode loadBlas}'s first
   * find; "blas" always the latter.
   */
  products?: "auto" | "blas";
  /** Which kernels to replace. Default: all of {@linkcode NATIVE_KERNELS}. */
  kernels?: readonly NativeKernelName[];
  /**
   * Products with fewer multiply-adds than this go to the original kernel,
   * which is faster when the call itself dominates. Default 32768.
   */
  minMultiplyAdds?: number;
  /** Most bytes of scratch memory a convolution may use. Default 64 MiB. */
  scratchBytes?: number;
  /**
   * Most bytes of im2col matrices kept from a forward convolution for the
   * filter gradient of the same input to reuse, spare buffers included.
   * Default 512 MiB, a ResNet-8 step's columns at batch 128 with room to
   * recycle them; 0 keeps none.
   */
  columnCacheBytes?: number;
  /**
   * Threads the BLAS may use (OpenBLAS only; oneDNN's follow
   * OMP_NUM_THREADS). Default: as the library is set up, usually one per
   * CPU.
   */
  threads?: number;
  /**
   * Which library computes 2-D convolutions: "auto" (default) oneDNN when
   * it loads (core/native/dnnl.ts), else the BLAS through im2col; "blas"
   * always the BLAS.
   */
  convolutions?: "auto" | "blas";
}

/**
 * How often a replaced kernel ran natively and how often it fell back, and
 * where the native calls' time went.
 */
export interface KernelCalls {
  native: number;
  fallback: number;
  /** Milliseconds spent in the native calls, all of their work. */
  ms: number;
  /**
   * Of those, milliseconds inside the native libraries (the BLAS's sgemm
   * and sgemv, oneDNN's convolutions). `blasMs / ms` is the share of a
   * kernel's time the library takes: the rest is lowering (im2col,
   * col2im, transposes) and bookkeeping.
   */
  blasMs: number;
}

/** What {@linkcode enableNativeKernels} did. */
export interface NativeKernelsStatus {
  /** True while native kernels are registered. */
  enabled: boolean;
  /** The kernels replaced. */
  kernels: NativeKernelName[];
  /** The BLAS library in use. */
  blasPath?: string;
  /**
   * The library computing convolutions: oneDNN's path and version, or
   * "BLAS (im2col)" with why oneDNN is not used.
   */
  convolutions?: string;
  /** Why nothing was enabled, when nothing was. */
  reason?: string;
  /** Calls per replaced kernel since enabling. */
  calls: Partial<Record<NativeKernelName, KernelCalls>>;
  /** Convolutions that reused a cached im2col matrix since enabling. */
  columnHits: number;
}

interface Context {
  blas: Blas;
  /** oneDNN, when it computes the convolutions. */
  dnnl?: Dnnl;
  /** Why oneDNN is not used, when it is not. */
  dnnlReason?: string;
  /**
   * oneDNN for elementwise arithmetic and batch norm, when it loads
   * (whichever library computes the convolutions).
   */
  arithmetic: ChannelContext;
  /** Milliseconds spent inside `blas` since enabling. */
  blasMs: number;
  scratch: Scratch;
  columns: ColumnCache;
  ones: Float32Array;
  minMultiplyAdds: number;
  scratchFloats: number;
  calls: Partial<Record<NativeKernelName, KernelCalls>>;
  installed: Map<NativeKernelName, Installed>;
}

interface Installed {
  config: tf.KernelConfig;
  original?: tf.KernelConfig;
}

type KernelArgs = Parameters<tf.KernelFunc>[0];

/** The inputs of the replaced kernels, by their tfjs names. */
interface Inputs extends ElementwiseInputs {
  a: tf.TensorInfo;
  b: tf.TensorInfo;
  x: tf.TensorInfo;
  filter: tf.TensorInfo;
  dy: tf.TensorInfo;
  input: tf.TensorInfo;
  u: tf.TensorInfo;
  bias?: tf.TensorInfo | null;
  preluActivationWeights?: tf.TensorInfo | null;
}

/** The attributes of the replaced kernels, by their tfjs names. */
interface Attrs extends ElementwiseAttrs {
  transposeA: boolean;
  transposeB: boolean;
  strides: [number, number] | number;
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dataFormat: "NHWC" | "NCHW";
  dilations?: [number, number] | number;
  dimRoundingMode?: "floor" | "round" | "ceil";
  activation?: string;
  leakyreluAlpha?: number;
  inputShape?: [number, number, number, number];
  filterShape?: [number, number, number, number];
  axis?: number | number[];
  keepDims?: boolean;
  begin?: number | number[];
  size?: number | number[];
  dtype?: tf.DataType;
  filterSize?: number | [number, number];
  varianceEpsilon?: number;
  epsilon?: number;
}

type Impl = (
  ctx: Context,
  backend: WasmBackend,
  inputs: Inputs,
  attrs: Attrs,
) => tf.TensorInfo | tf.TensorInfo[] | undefined;

const BACKEND = "wasm";
let active: Context | undefined;
/** The system BLAS, opened once: opening OpenBLAS starts its threads. */
let systemBlas: BlasResult | undefined;
/** oneDNN, opened once. */
let systemDnnl: DnnlResult | undefined;
let lastReason: string | undefined;

/**
 * Registers the BLAS-backed kernels for the wasm backend, keeping the
 * kernels they replace to fall back on. Call it after the wasm backend is
 * loaded and after any other kernel pack registers its kernels. When no
 * BLAS can be loaded nothing changes and the status says why; calling it
 * again replaces the previous registration.
 *
 * @example
 * ```ts
 * import { useBackend } from "../backend.ts";
 * import { disableNativeKernels, enableNativeKernels } from "./kernels.ts";
 * await useBackend("wasm");
 * const status = enableNativeKernels();
 * console.assert(status.enabled || status.reason !== undefined);
 * disableNativeKernels();
 * ```
 */
export function enableNativeKernels(
  options: NativeKernelOptions = {},
): NativeKernelsStatus {
  if (tf.getKernel("Conv2D", BACKEND) === undefined) {
    throw new Error(
      "Cannot enable native kernels: the wasm backend is not loaded; " +
        'call useBackend("wasm") first',
    );
  }
  const unknown = options.kernels?.find((k) => !NATIVE_KERNELS.includes(k));
  if (unknown !== undefined) {
    throw new RangeError(
      `Cannot enable native kernel "${unknown}": it is not in this pack; ` +
        `choose from ${NATIVE_KERNELS.map((k) => `"${k}"`).join(", ")}`,
    );
  }
  if (![undefined, "auto", "blas"].includes(options.products)) {
    throw new RangeError(
      `Cannot enable native kernels: products is "${options.products}"; ` +
        'choose "auto" or "blas"',
    );
  }
  disableNativeKernels();
  systemDnnl ??= loadDnnl();
  let blas = options.blas;
  if (blas === undefined) {
    const found = productLibrary(options.products);
    if (!found.available) {
      lastReason = found.reason;
      return nativeKernelsStatus();
    }
    blas = found.blas;
  }
  if (options.threads !== undefined) blas.setThreads(options.threads);
  const ctx: Context = {
    blas: blas,
    blasMs: 0,
    scratch: new Scratch(),
    columns: new ColumnCache(options.columnCacheBytes ?? 512 * 2 ** 20),
    ones: new Float32Array(0),
    minMultiplyAdds: options.minMultiplyAdds ?? 32768,
    scratchFloats: Math.floor((options.scratchBytes ?? 64 * 2 ** 20) / 4),
    calls: {},
    installed: new Map(),
    arithmetic: { minSize: options.minMultiplyAdds ?? 32768 },
  };
  ctx.blas = timed(blas, ctx);
  const dnnl = systemDnnl.available
    ? timedDnnl(systemDnnl.dnnl, ctx)
    : undefined;
  ctx.arithmetic.dnnl = dnnl;
  if (options.convolutions === "blas") {
    ctx.dnnlReason = "not chosen";
  } else if (dnnl) ctx.dnnl = dnnl;
  else if (!systemDnnl.available) ctx.dnnlReason = systemDnnl.reason;
  for (const name of options.kernels ?? NATIVE_KERNELS) {
    if (!DNNL_ONLY.has(name) || dnnl) install(ctx, name);
  }
  active = ctx;
  lastReason = undefined;
  return nativeKernelsStatus();
}

/**
 * The sgemm {@linkcode enableNativeKernels} computes matrix products with
 * when not given one, as `products` says: oneDNN's when oneDNN loads
 * ("auto"), else the system BLAS. Both are opened once per process and
 * shared; do not close what this returns.
 */
export function productLibrary(
  products: NativeKernelOptions["products"] = "auto",
): BlasResult {
  systemDnnl ??= loadDnnl();
  const dnnl = systemDnnl;
  if (products !== "blas" && dnnl.available) {
    return { available: true, blas: dnnlBlas(dnnl.dnnl) };
  }
  systemBlas ??= loadBlas();
  const blas = systemBlas;
  if (blas.available || products === "blas" || dnnl.available) return blas;
  return { available: false, reason: `${dnnl.reason}; and ${blas.reason}` };
}

/**
 * Puts back the kernels {@linkcode enableNativeKernels} replaced. A kernel
 * that someone registered since is left as it is. Does nothing when native
 * kernels are not enabled.
 */
export function disableNativeKernels(): void {
  const ctx = active;
  if (ctx === undefined) return;
  for (const [name, { config, original }] of ctx.installed) {
    if (tf.getKernel(name, BACKEND) !== config) continue;
    tf.unregisterKernel(name, BACKEND);
    if (original) tf.registerKernel(original);
  }
  ctx.scratch.release();
  ctx.columns.clear();
  active = undefined;
}

/** Whether native kernels are enabled, which ones, and their call counts. */
export function nativeKernelsStatus(): NativeKernelsStatus {
  const ctx = active;
  if (ctx === undefined) {
    return {
      enabled: false,
      kernels: [],
      reason: lastReason ?? "Native kernels are not enabled",
      calls: {},
      columnHits: 0,
    };
  }
  const calls: NativeKernelsStatus["calls"] = {};
  for (const [name, count] of Object.entries(ctx.calls)) {
    calls[name as NativeKernelName] = { ...count };
  }
  return {
    enabled: true,
    kernels: [...ctx.installed.keys()],
    blasPath: ctx.blas.path,
    convolutions: ctx.dnnl
      ? `oneDNN ${ctx.dnnl.version} (${ctx.dnnl.path})`
      : `BLAS (im2col); oneDNN: ${ctx.dnnlReason}`,
    calls,
    columnHits: ctx.columns.hits,
  };
}

const IMPLS: Record<NativeKernelName, Impl> = {
  BatchMatMul: (ctx, backend, inputs, attrs) =>
    matMul(ctx, backend, inputs.a, inputs.b, attrs),
  _FusedMatMul: fusedMatMul,
  Conv2D: conv2d,
  FusedConv2D: fusedConv2d,
  Conv2DBackpropInput: conv2dBackpropInput,
  Conv2DBackpropFilter: conv2dBackpropFilter,
  [CONV_FILTER_ROW_NORMS]: convFilterRowNorms,
  Sum: sum,
  Mean: (ctx, backend, inputs, attrs) => sum(ctx, backend, inputs, attrs, true),
  Slice: slice,
  Identity: identity,
  Cast: (ctx, backend, inputs, attrs) =>
    attrs.dtype === inputs.x.dtype ? identity(ctx, backend, inputs) : undefined,
  MaxPoolGrad: maxPoolGrad,
  FisherlabPickAtArgmax: pickAtArgmax,
  Select: (ctx, backend, inputs) =>
    select(backend, inputs, {
      minSize: ctx.minMultiplyAdds / 8,
      simd: wasmCodeFor(backend)?.select,
    }),
  Greater: (ctx, backend, inputs) =>
    greater(backend, inputs, {
      minSize: ctx.minMultiplyAdds / 8,
      simd: wasmCodeFor(backend)?.greater,
    }),
  PadV2: (ctx, backend, inputs, attrs) =>
    padV2(backend, inputs, attrs, {
      minSize: ctx.minMultiplyAdds / 8,
      copy: wasmCodeFor(backend)?.copyRuns,
    }),
  Multiply: (ctx, backend, { a, b }) =>
    binary(ctx.arithmetic, backend, "mul", a, b, true),
  Add: (ctx, backend, { a, b }) =>
    binary(ctx.arithmetic, backend, "add", a, b, true),
  Sub: (ctx, backend, { a, b }) =>
    binary(ctx.arithmetic, backend, "sub", a, b, false),
  RealDiv: (ctx, backend, { a, b }) =>
    binary(ctx.arithmetic, backend, "div", a, b, false),
  Neg: (ctx, backend, { x }) =>
    binary(ctx.arithmetic, backend, "mul", x, -1, false),
  Square: (ctx, backend, { x }) =>
    binary(ctx.arithmetic, backend, "mul", x, x, true),
  [BATCH_NORM_TRAINING]: (ctx, backend, inputs, attrs) =>
    batchNormTraining(
      ctx.arithmetic,
      backend,
      inputs as unknown as BatchNormTrainingInputs,
      attrs.epsilon ?? 0.001,
    ),
  [BATCH_NORM_TRAINING_GRAD]: (ctx, backend, inputs, attrs) =>
    batchNormTrainingGrad(
      ctx.arithmetic,
      backend,
      inputs as unknown as BatchNormTrainingInputs,
      attrs.epsilon ?? 0.001,
    ),
  FusedBatchNorm: (ctx, backend, inputs, attrs) =>
    batchNorm(
      ctx.arithmetic,
      backend,
      inputs as unknown as BatchNormInputs,
      attrs.varianceEpsilon ?? 0.001,
    ),
};

/** `blas` with the time spent in each call added to `ctx.blasMs`. */
function timed(blas: Blas, ctx: Context): Blas {
  return {
    path: blas.path,
    config: blas.config,
    sgemm(args) {
      const start = performance.now();
      blas.sgemm(args);
      ctx.blasMs += performance.now() - start;
    },
    sgemv(args) {
      const start = performance.now();
      blas.sgemv(args);
      ctx.blasMs += performance.now() - start;
    },
    threads: () => blas.threads(),
    setThreads: (count) => blas.setThreads(count),
    close: () => blas.close(),
  };
}

/** `dnnl` with the time spent in each call added to `ctx.blasMs`. */
function timedDnnl(dnnl: Dnnl, ctx: Context): Dnnl {
  const time =
    <A extends unknown[]>(f: (...args: A) => boolean) => (...args: A) => {
      const start = performance.now();
      const done = f(...args);
      ctx.blasMs += performance.now() - start;
      return done;
    };
  return {
    path: dnnl.path,
    version: dnnl.version,
    forward: time((g, x, w, y, bias) => dnnl.forward(g, x, w, y, bias)),
    backwardData: time((g, dy, w, dx) => dnnl.backwardData(g, dy, w, dx)),
    backwardWeights: time((g, x, dy, dw) => dnnl.backwardWeights(g, x, dy, dw)),
    binary: time((op, rows, cols, b, a, bv, y) =>
      dnnl.binary(op, rows, cols, b, a, bv, y)
    ),
    batchNorm: time((shape, eps, x, stats, y) =>
      dnnl.batchNorm(shape, eps, x, stats, y)
    ),
    batchNormTraining: time((shape, eps, x, stats, y) =>
      dnnl.batchNormTraining(shape, eps, x, stats, y)
    ),
    batchNormBackward: time((shape, eps, x, stats, dy, grads) =>
      dnnl.batchNormBackward(shape, eps, x, stats, dy, grads)
    ),
    // Timed where it is called, as the pack's BLAS.
    sgemm: (args) => dnnl.sgemm(args),
    close: () => dnnl.close(),
  };
}

function install(ctx: Context, name: NativeKernelName): void {
  const original = tf.getKernel(name, BACKEND);
  const impl = IMPLS[name];
  const calls: KernelCalls = { native: 0, fallback: 0, ms: 0, blasMs: 0 };
  ctx.calls[name] = calls;
  const kernelFunc = (args: KernelArgs) => {
    const start = performance.now();
    const blasBefore = ctx.blasMs;
    const out = isWasmBackend(args.backend)
      ? impl(
        ctx,
        args.backend,
        args.inputs as unknown as Inputs,
        args.attrs as unknown as Attrs,
      )
      : undefined;
    if (out !== undefined) {
      calls.native++;
      calls.ms += performance.now() - start;
      calls.blasMs += ctx.blasMs - blasBefore;
      return out;
    }
    if (original === undefined) {
      throw new Error(
        `Cannot run ${name} natively: these inputs or attributes are not ` +
          "supported (only float32 NHWC) and the wasm backend has no " +
          `${name} kernel to fall back on`,
      );
    }
    calls.fallback++;
    return original.kernelFunc(args);
  };
  const config: tf.KernelConfig = {
    kernelName: name,
    backendName: BACKEND,
    kernelFunc: kernelFunc as tf.KernelFunc,
    setupFunc: original?.setupFunc,
    disposeFunc: original?.disposeFunc,
  };
  if (original) tf.unregisterKernel(name, BACKEND);
  tf.registerKernel(config);
  ctx.installed.set(name, { config, original });
}

// --- matrix products -------------------------------------------------------

interface MatMulPlan {
  m: number;
  n: number;
  k: number;
  batchA: number;
  batchB: number;
  batch: number;
  outShape: number[];
}

function planMatMul(
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  attrs: Attrs,
): MatMulPlan | undefined {
  if (a.dtype !== "float32" || b.dtype !== "float32") return undefined;
  const ra = a.shape.length;
  const rb = b.shape.length;
  if (ra < 2 || rb < 2) return undefined;
  const [a0, a1] = a.shape.slice(-2);
  const [b0, b1] = b.shape.slice(-2);
  const m = attrs.transposeA ? a1 : a0;
  const k = attrs.transposeA ? a0 : a1;
  const n = attrs.transposeB ? b0 : b1;
  if (k !== (attrs.transposeB ? b1 : b0)) return undefined;
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(b.shape.slice(0, -2));
  let outer: number[];
  try {
    outer = tf.backend_util.assertAndGetBroadcastShape(
      a.shape.slice(0, -2),
      b.shape.slice(0, -2),
    );
  } catch {
    return undefined;
  }
  const batch = Math.max(batchA, batchB);
  const simple = batchA === batchB || batchA === 1 || batchB === 1;
  if (!simple || tf.util.sizeFromShape(outer) !== batch) return undefined;
  if (m * n * k === 0) return undefined;
  return { m, n, k, batchA, batchB, batch, outShape: [...outer, m, n] };
}

function matMul(
  ctx: Context,
  backend: WasmBackend,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  attrs: Attrs,
  bias?: tf.TensorInfo,
): tf.TensorInfo | undefined {
  const plan = planMatMul(a, b, attrs);
  if (plan === undefined) return undefined;
  const { m, n, k, batch } = plan;
  if (m * n * k < ctx.minMultiplyAdds) return undefined;

  const out = backend.makeOutput(plan.outShape, "float32");
  const av = heapView(backend, a);
  const bv = heapView(backend, b);
  const cv = heapView(backend, out);
  if (bias) fillRows(cv, heapView(backend, bias), batch * m, n);
  for (let i = 0; i < batch; i++) {
    const ia = plan.batchA === 1 ? 0 : i;
    const ib = plan.batchB === 1 ? 0 : i;
    ctx.blas.sgemm({
      m,
      n,
      k,
      a: av.subarray(ia * m * k, (ia + 1) * m * k),
      b: bv.subarray(ib * k * n, (ib + 1) * k * n),
      c: cv.subarray(i * m * n, (i + 1) * m * n),
      transA: attrs.transposeA,
      transB: attrs.transposeB,
      beta: bias ? 1 : 0,
    });
  }
  activate(backend, out, attrs);
  return out;
}

function fusedMatMul(
  ctx: Context,
  backend: WasmBackend,
  inputs: Inputs,
  attrs: Attrs,
): tf.TensorInfo | undefined {
  const { a, b, bias, preluActivationWeights } = inputs;
  if (preluActivationWeights != null) return undefined;
  if (!supportsActivation(attrs.activation)) return undefined;
  const n = attrs.transposeB ? b.shape[b.shape.length - 2] : b.shape.at(-1);
  if (bias != null && !isVectorOf(bias, n ?? -1)) return undefined;
  return matMul(ctx, backend, a, b, attrs, bias ?? undefined);
}

// --- convolutions ----------------------------------------------------------

function geometry(
  ctx: Context,
  inShape: number[],
  filterShape: number[],
  attrs: Attrs,
): ConvGeometry | undefined {
  if (attrs.dataFormat !== "NHWC") return undefined;
  const g = nhwcGeometry(inShape, filterShape, attrs);
  if (g === undefined) return undefined;
  const rows = g.batch * g.outH * g.outW;
  const work = rows * patchSize(g) * g.outC;
  if (work === 0 || work < ctx.minMultiplyAdds) return undefined;
  return g;
}

/** The NHWC geometry tfjs computes for these shapes and attributes. */
function nhwcGeometry(
  inShape: number[],
  filterShape: number[],
  attrs: Pick<Attrs, "strides" | "pad" | "dilations" | "dimRoundingMode">,
): ConvGeometry | undefined {
  if (inShape.length !== 4 || filterShape.length !== 4) return undefined;
  return convGeometry(tf.backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    "channelsLast",
  ));
}

/**
 * The column matrix of every image of `x`, from the cache, or gathered into
 * it when `keep` (forward convolutions keep theirs for the filter gradient);
 * undefined when it is larger than the cache may hold, or not cached and
 * not to be kept.
 */
function columns(
  ctx: Context,
  backend: WasmBackend,
  x: tf.TensorInfo,
  xv: Float32Array,
  g: ConvGeometry,
  keep = true,
): Float32Array | undefined {
  const length = g.batch * g.outH * g.outW * patchSize(g);
  if (!ctx.columns.fits(length)) return undefined;
  const key = geometryKey(g);
  const cached = ctx.columns.get(x.dataId, key);
  if (cached || !keep) return cached;
  const col = ctx.columns.allocate(length, (id) => backend.dataIdMap.has(id));
  im2col(xv, g, 0, g.batch, col);
  ctx.columns.put(x.dataId, key, col);
  return col;
}

/** Images per chunk so that one chunk's column matrix fits the scratch. */
function imagesPerChunk(ctx: Context, g: ConvGeometry): number {
  const perImage = g.outH * g.outW * patchSize(g);
  return Math.max(
    1,
    Math.min(g.batch, Math.floor(ctx.scratchFloats / perImage)),
  );
}

function conv2d(
  ctx: Context,
  backend: WasmBackend,
  inputs: Inputs,
  attrs: Attrs,
): tf.TensorInfo | undefined {
  const { x, filter } = inputs;
  if (x.dtype !== "float32" || filter.dtype !== "float32") return undefined;
  const g = geometry(ctx, x.shape, filter.shape, attrs);
  if (g === undefined) return undefined;
  return convForward(ctx, backend, g, x, filter);
}

function fusedConv2d(
  ctx: Context,
  backend: WasmBackend,
  inputs: Inputs,
  attrs: Attrs,
): tf.TensorInfo | undefined {
  const { x, filter, bias, preluActivationWeights } = inputs;
  if (x.dtype !== "float32" || filter.dtype !== "float32") return undefined;
  if (preluActivationWeights != null) return undefined;
  if (!supportsActivation(attrs.activation)) return undefined;
  const g = geometry(ctx, x.shape, filter.shape, attrs);
  if (g === undefined) return undefined;
  if (bias != null && !isVectorOf(bias, g.outC)) return undefined;
  const out = convForward(ctx, backend, g, x, filter, bias ?? undefined);
  activate(backend, out, attrs);
  return out;
}

function convForward(
  ctx: Context,
  backend: WasmBackend,
  g: ConvGeometry,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias?: tf.TensorInfo,
): tf.TensorInfo {
  const out = backend.makeOutput([g.batch, g.outH, g.outW, g.outC], "float32");
  const xv = heapView(backend, x);
  const fv = heapView(backend, filter);
  const yv = heapView(backend, out);
  const biasView = bias ? heapView(backend, bias) : undefined;
  if (ctx.dnnl?.forward(g, xv, fv, yv, biasView)) return out;
  const pixels = g.outH * g.outW;
  const p = patchSize(g);
  const beta = bias ? 1 : 0;
  if (bias) fillRows(yv, heapView(backend, bias), g.batch * pixels, g.outC);

  if (isPointwise(g)) {
    const m = g.batch * pixels;
    ctx.blas.sgemm({ m, n: g.outC, k: p, a: xv, b: fv, c: yv, beta });
    return out;
  }
  const whole = columns(ctx, backend, x, xv, g);
  if (whole) {
    const m = g.batch * pixels;
    ctx.blas.sgemm({ m, n: g.outC, k: p, a: whole, b: fv, c: yv, beta });
    return out;
  }
  const chunk = imagesPerChunk(ctx, g);
  for (let first = 0; first < g.batch; first += chunk) {
    const count = Math.min(chunk, g.batch - first);
    const m = count * pixels;
    const col = ctx.scratch.take(m * p);
    im2col(xv, g, first, count, col);
    const at = first * pixels * g.outC;
    const c = yv.subarray(at, at + m * g.outC);
    ctx.blas.sgemm({ m, n: g.outC, k: p, a: col, b: fv, c, beta });
  }
  return out;
}

function conv2dBackpropInput(
  ctx: Context,
  backend: WasmBackend,
  inputs: Inputs,
  attrs: Attrs,
): tf.TensorInfo | undefined {
  const { dy, filter } = inputs;
  if (dy.dtype !== "float32" || filter.dtype !== "float32") return undefined;
  if (attrs.inputShape === undefined) return undefined;
  const g = geometry(ctx, attrs.inputShape, filter.shape, attrs);
  if (g === undefined) return undefined;

  const out = backend.makeOutput([...attrs.inputShape], "float32");
  const dyv = heapView(backend, dy);
  const fv = heapView(backend, filter);
  const dxv = heapView(backend, out);
  if (ctx.dnnl?.backwardData(g, dyv, fv, dxv)) return out;
  const pixels = g.outH * g.outW;
  const p = patchSize(g);
  if (isPointwise(g)) {
    const m = g.batch * pixels;
    ctx.blas.sgemm({ m, n: p, k: g.outC, a: dyv, b: fv, c: dxv, transB: true });
    return out;
  }
  if (g.strideH === 1 && g.strideW === 1) {
    shiftedBackpropInput(ctx, g, dyv, fv, dxv);
    return out;
  }
  dxv.fill(0);
  const chunk = imagesPerChunk(ctx, g);
  for (let first = 0; first < g.batch; first += chunk) {
    const count = Math.min(chunk, g.batch - first);
    const m = count * pixels;
    const col = ctx.scratch.take(m * p);
    const at = first * pixels * g.outC;
    const a = dyv.subarray(at, at + m * g.outC);
    ctx.blas.sgemm({ m, n: p, k: g.outC, a, b: fv, c: col, transB: true });
    col2im(col, g, first, count, dxv);
  }
  return out;
}

/**
 * dx of a stride-1 convolution without col2im. In a zero-padded "wide"
 * layout, where every image is (outH + kH - 1) x (outW + kW - 1) and dy
 * sits in its top-left corner, tap (kh, kw) links each row r of dy to row
 * r + kh * width + kw of the padded dx: one sgemm per tap adds
 * dy W[kh, kw]^T there (rows of dy outside it are zero and add nothing),
 * and dx is the padded dx without its border.
 *
 * The padded dx is kept transposed (inC x rows), so that each sgemm has
 * the long side as its columns, where OpenBLAS runs faster by a third on
 * SimpleCNN's shapes; the crop transposes it back.
 */
function shiftedBackpropInput(
  ctx: Context,
  g: ConvGeometry,
  dyv: Float32Array,
  fv: Float32Array,
  dxv: Float32Array,
): void {
  const height = g.outH + g.kH - 1;
  const width = g.outW + g.kW - 1;
  const perImage = height * width * (g.outC + g.inC);
  const chunk = Math.max(
    1,
    Math.min(g.batch, Math.floor(ctx.scratchFloats / perImage)),
  );
  for (let first = 0; first < g.batch; first += chunk) {
    const count = Math.min(chunk, g.batch - first);
    const rows = count * height * width;
    const wide = ctx.scratch.take(rows * g.outC, 0);
    const paddedT = ctx.scratch.take(rows * g.inC, 1);
    wide.fill(0);
    paddedT.fill(0);
    const run = g.outW * g.outC;
    for (let n = 0; n < count; n++) {
      for (let oh = 0; oh < g.outH; oh++) {
        const from = ((first + n) * g.outH + oh) * run;
        const to = ((n * height + oh) * width) * g.outC;
        wide.set(dyv.subarray(from, from + run), to);
      }
    }
    const block = g.inC * g.outC;
    for (let kh = 0; kh < g.kH; kh++) {
      for (let kw = 0; kw < g.kW; kw++) {
        const shift = kh * width + kw;
        const at = (kh * g.kW + kw) * block;
        // paddedT[:, shift:] += W[kh, kw] wide^T (W[kh, kw] is inC x outC)
        ctx.blas.sgemm({
          m: g.inC,
          n: rows - shift,
          k: g.outC,
          a: fv.subarray(at, at + block),
          b: wide,
          c: paddedT.subarray(shift),
          transB: true,
          ldc: rows,
          beta: 1,
        });
      }
    }
    cropTransposed(paddedT, g, { first, count, height, width }, dxv);
  }
}

/** Where images [first, first + count) lie in the padded layout. */
interface PaddedChunk {
  first: number;
  count: number;
  height: number;
  width: number;
}

/** Copies the images of the transposed padded dx into dx (NHWC). */
function cropTransposed(
  paddedT: Float32Array,
  g: ConvGeometry,
  { first, count, height, width }: PaddedChunk,
  dxv: Float32Array,
): void {
  const rows = count * height * width;
  const { inH, inW, inC } = g;
  const keep = Math.max(0, Math.min(inW, width - g.padLeft));
  for (let n = 0; n < count; n++) {
    for (let ih = 0; ih < inH; ih++) {
      const to = ((first + n) * inH + ih) * inW * inC;
      const ph = ih + g.padTop;
      if (ph >= height) {
        dxv.fill(0, to, to + inW * inC);
        continue;
      }
      const from = (n * height + ph) * width + g.padLeft;
      for (let c = 0; c < inC; c++) {
        const src = c * rows + from;
        for (let iw = 0, d = to + c; iw < keep; iw++, d += inC) {
          dxv[d] = paddedT[src + iw];
        }
      }
      if (keep < inW) dxv.fill(0, to + keep * inC, to + inW * inC);
    }
  }
}

function conv2dBackpropFilter(
  ctx: Context,
  backend: WasmBackend,
  inputs: Inputs,
  attrs: Attrs,
): tf.TensorInfo | undefined {
  const { x, dy } = inputs;
  if (x.dtype !== "float32" || dy.dtype !== "float32") return undefined;
  if (attrs.filterShape === undefined) return undefined;
  const g = geometry(ctx, x.shape, attrs.filterShape, attrs);
  if (g === undefined) return undefined;

  const out = backend.makeOutput([...attrs.filterShape], "float32");
  const xv = heapView(backend, x);
  const whole = ctx.dnnl ? undefined : columns(ctx, backend, x, xv, g, false);
  filterGradient(ctx, g, xv, heapView(backend, dy), heapView(backend, out), {
    whole,
  });
  return out;
}

/**
 * dW of the convolution `g` from x and dy, into `dw`: oneDNN's primitive
 * when it has one, else col^T dy through the sgemm, with `whole` as the
 * column matrix of all of x when the caller has it and chunks of im2col
 * (in scratch slot 0) otherwise.
 */
function filterGradient(
  ctx: Context,
  g: ConvGeometry,
  xv: Float32Array,
  dyv: Float32Array,
  dwv: Float32Array,
  options: { whole?: Float32Array } = {},
): void {
  if (ctx.dnnl?.backwardWeights(g, xv, dyv, dwv)) return;
  const pixels = g.outH * g.outW;
  const p = patchSize(g);
  const product = new FilterProduct(ctx, p, g.outC, dwv);
  if (isPointwise(g)) {
    product.add(xv, dyv, g.batch * pixels, 0);
    return product.finish();
  }
  if (options.whole) {
    product.add(options.whole, dyv, g.batch * pixels, 0);
    return product.finish();
  }
  const chunk = imagesPerChunk(ctx, g);
  for (let first = 0; first < g.batch; first += chunk) {
    const count = Math.min(chunk, g.batch - first);
    const k = count * pixels;
    const col = ctx.scratch.take(k * p);
    im2col(xv, g, first, count, col);
    const at = first * pixels * g.outC;
    product.add(col, dyv.subarray(at, at + k * g.outC), k, first === 0 ? 0 : 1);
  }
  product.finish();
}

/**
 * fisherlab's per-example filter-gradient norms (kernels/conv_row_norms.ts):
 * for each row of x and dy, the filter gradient of that row alone (the
 * convolution at batch 1, into scratch slot 3) and its sum of squares.
 */
function convFilterRowNorms(
  ctx: Context,
  backend: WasmBackend,
  inputs: Inputs,
  attrs: Attrs,
): tf.TensorInfo | undefined {
  const { x, dy } = inputs;
  if (x.dtype !== "float32" || dy.dtype !== "float32") return undefined;
  if (x.shape.length !== 4 || dy.shape.length !== 4) return undefined;
  if (x.shape[0] !== dy.shape[0]) return undefined;
  const size = attrs.filterSize;
  if (size === undefined) return undefined;
  const [kh, kw] = typeof size === "number" ? [size, size] : size;
  // One row's convolution: batch 1, no dilation.
  const g = nhwcGeometry(
    [1, x.shape[1], x.shape[2], x.shape[3]],
    [kh, kw, x.shape[3], dy.shape[3]],
    { strides: attrs.strides, pad: attrs.pad },
  );
  if (g === undefined || g.outH !== dy.shape[1] || g.outW !== dy.shape[2]) {
    return undefined;
  }
  const rows = x.shape[0];
  const out = backend.makeOutput([rows], "float32");
  const [xv, dyv, norms] = [x, dy, out].map((t) => heapView(backend, t));
  const inSize = g.inH * g.inW * g.inC;
  const outSize = g.outH * g.outW * g.outC;
  const dw = ctx.scratch.take(patchSize(g) * g.outC, 3);
  for (let i = 0; i < rows; i++) {
    filterGradient(
      ctx,
      g,
      xv.subarray(i * inSize, (i + 1) * inSize),
      dyv.subarray(i * outSize, (i + 1) * outSize),
      dw,
    );
    norms[i] = sumOfSquares(dw);
  }
  return out;
}

/**
 * The sum of the squares of `v`, in four float64 partial sums: on 36,864
 * floats 13 us against 30 for one running sum (whose every addition waits
 * for the last) and 38 for a 1 x k by k x 1 sgemm.
 */
function sumOfSquares(v: Float32Array): number {
  let a = 0, b = 0, c = 0, d = 0;
  const whole = v.length & ~3;
  let j = 0;
  for (; j < whole; j += 4) {
    a += v[j] * v[j];
    b += v[j + 1] * v[j + 1];
    c += v[j + 2] * v[j + 2];
    d += v[j + 3] * v[j + 3];
  }
  for (; j < v.length; j++) a += v[j] * v[j];
  return a + b + c + d;
}

/**
 * dW = col^T dy (p x outC), summed over chunks. When the patch is longer
 * than outC it is computed as dW^T = dy^T col in scratch and transposed at
 * the end: OpenBLAS runs the long side as columns faster (about a quarter
 * on SimpleCNN's 3x3x32 -> 64), and dW is small to transpose.
 */
class FilterProduct {
  #ctx: Context;
  #p: number;
  #outC: number;
  #dw: Float32Array;
  #target: Float32Array;
  #transposed: boolean;

  constructor(ctx: Context, p: number, outC: number, dw: Float32Array) {
    this.#ctx = ctx;
    this.#p = p;
    this.#outC = outC;
    this.#dw = dw;
    this.#transposed = p > outC;
    this.#target = this.#transposed ? ctx.scratch.take(p * outC, 2) : dw;
  }

  /** Adds (beta 1) or writes (beta 0) col^T dy over `k` rows. */
  add(col: Float32Array, dy: Float32Array, k: number, beta: number): void {
    const [p, outC, c] = [this.#p, this.#outC, this.#target];
    const args = this.#transposed
      ? { m: outC, n: p, k, a: dy, b: col, c, transA: true, beta }
      : { m: p, n: outC, k, a: col, b: dy, c, transA: true, beta };
    this.#ctx.blas.sgemm(args);
  }

  finish(): void {
    if (!this.#transposed) return;
    const [p, outC, from, to] = [this.#p, this.#outC, this.#target, this.#dw];
    for (let o = 0; o < outC; o++) {
      for (let i = 0, d = o; i < p; i++, d += outC) to[d] = from[o * p + i];
    }
  }
}

// --- pooling ---------------------------------------------------------------

/**
 * MaxPoolGrad of 2x2 windows at stride 2 tiling x, channels a multiple of
 * 4: one WebAssembly SIMD pass (`route2x2` in _wasm_code.ts). Other pools
 * go to the JavaScript kernel registered before.
 */
function maxPoolGrad(
  ctx: Context,
  backend: WasmBackend,
  inputs: Inputs,
  attrs: Attrs,
): tf.TensorInfo | undefined {
  const { dy, input: x } = inputs;
  const rows = tiledRows(ctx, x, dy, attrs);
  const route = wasmCodeFor(backend)?.route2x2;
  if (rows === undefined || route === undefined) return undefined;
  const out = backend.makeOutput(x.shape, "float32");
  const offset = (t: tf.TensorInfo) => offsetOf(backend, t);
  const [, , w, c] = x.shape;
  route(offset(x), offset(dy), offset(out), rows, w / 2, c, w * c * 4);
  return out;
}

/**
 * The derivative of MaxPoolGrad in dy (u read at each window's first
 * maximum of x), for the same pools as {@linkcode maxPoolGrad}: one SIMD
 * pass (`pick2x2`).
 */
function pickAtArgmax(
  ctx: Context,
  backend: WasmBackend,
  inputs: Inputs,
  attrs: Attrs,
): tf.TensorInfo | undefined {
  const { x, u } = inputs;
  const rows = tiledRows(ctx, x, u, attrs);
  const pick = wasmCodeFor(backend)?.pick2x2;
  if (rows === undefined || pick === undefined) return undefined;
  const [n, h, w, c] = x.shape;
  const out = backend.makeOutput([n, h / 2, w / 2, c], "float32");
  const offset = (t: tf.TensorInfo) => offsetOf(backend, t);
  pick(offset(x), offset(u), offset(out), rows, w / 2, c, w * c * 4);
  return out;
}

/**
 * The number of window rows (batch times output height) when the pool
 * over float32 x is 2x2 windows at stride 2 that tile x, with channels a
 * multiple of 4 and x large enough to gain; else undefined.
 */
function tiledRows(
  ctx: Context,
  x: tf.TensorInfo,
  other: tf.TensorInfo,
  attrs: Attrs,
): number | undefined {
  if (x.dtype !== "float32" || other.dtype !== "float32") return undefined;
  if (x.shape.length !== 4 || attrs.filterSize === undefined) return undefined;
  const info = poolInfo(x.shape, {
    filterSize: attrs.filterSize,
    strides: attrs.strides,
    pad: attrs.pad as PadArg,
    dimRoundingMode: attrs.dimRoundingMode,
  });
  const [n, h, w, c] = x.shape;
  const tiles = info.filterHeight === 2 && info.filterWidth === 2 &&
    info.strideHeight === 2 && info.strideWidth === 2 &&
    info.padInfo.top === 0 && info.padInfo.left === 0 &&
    2 * info.outHeight === h && 2 * info.outWidth === w;
  if (!tiles || c % 4 !== 0 || n * h * w * c < ctx.minMultiplyAdds / 8) {
    return undefined;
  }
  return n * info.outHeight;
}

// --- reductions -----------------------------------------------------------

/**
 * Sum over leading axes (a bias gradient) or trailing axes, as one
 * matrix-vector product with a vector of ones: no transpose, unlike wasm's.
 */
function sum(
  ctx: Context,
  backend: WasmBackend,
  inputs: Inputs,
  attrs: Attrs,
  mean = false,
): tf.TensorInfo | undefined {
  const { x } = inputs;
  const shape = x.shape;
  const size = tf.util.sizeFromShape(shape);
  if (x.dtype !== "float32" || size < ctx.minMultiplyAdds || size === 0) {
    return undefined;
  }
  const axes = [
    ...new Set(tf.util.parseAxisParam(
      attrs.axis ?? null as unknown as number[],
      shape,
    )),
  ]
    .sort((a, b) => a - b);
  if (axes.length === 0) return undefined;
  const leading = axes.every((a, i) => a === i);
  const trailing = axes.every((a, i) => a === shape.length - axes.length + i);
  if (!leading && !trailing) return undefined;

  if (axes.length === shape.length) {
    return sumAll(ctx, backend, x, attrs.keepDims ?? false, mean);
  }
  const split = leading ? axes.length : shape.length - axes.length;
  const m = tf.util.sizeFromShape(shape.slice(0, split));
  const n = tf.util.sizeFromShape(shape.slice(split));
  const outShape = attrs.keepDims
    ? shape.map((d, i) => axes.includes(i) ? 1 : d)
    : shape.filter((_, i) => !axes.includes(i));
  const out = backend.makeOutput(outShape, "float32");
  const colsum = leading ? wasmCodeFor(backend)?.colsum : undefined;
  if (colsum && columnSums(backend, colsum, x, m, n, mean, out)) return out;
  const a = heapView(backend, x);
  const y = heapView(backend, out);
  const ones = onesOf(ctx, leading ? m : n);
  const alpha = mean ? 1 / (leading ? m : n) : 1;
  ctx.blas.sgemv({ m, n, a, x: ones, y, trans: leading, alpha });
  return out;
}

/**
 * The sum (or mean) of every entry: x as m rows of its trailing axes (at
 * least 64 wide where the shape allows), the rows summed by one sgemv into
 * scratch, then the n partial sums in float64. The column-sum path would
 * see one column here, and wasm's sum runs at a fifth of this speed.
 */
function sumAll(
  ctx: Context,
  backend: WasmBackend,
  x: tf.TensorInfo,
  keepDims: boolean,
  mean: boolean,
): tf.TensorInfo {
  const shape = x.shape;
  const size = tf.util.sizeFromShape(shape);
  let n = 1;
  for (let i = shape.length - 1; i >= 0 && n < 64; i--) n *= shape[i];
  const m = size / n;
  const out = backend.makeOutput(keepDims ? shape.map(() => 1) : [], "float32");
  const partial = ctx.scratch.take(n, 0);
  ctx.blas.sgemv({
    m,
    n,
    a: heapView(backend, x),
    x: onesOf(ctx, m),
    y: partial,
    trans: true,
  });
  let total = 0;
  for (let j = 0; j < n; j++) total += partial[j];
  heapView(backend, out)[0] = mean ? total / size : total;
  return out;
}

function onesOf(ctx: Context, length: number): Float32Array {
  if (ctx.ones.length < length) ctx.ones = new Float32Array(length).fill(1);
  return ctx.ones.subarray(0, length);
}

// --- slices --------------------------------------------------------------

/**
 * Slice of any rank, copied in place from the wasm memory in runs as long
 * as the trailing whole axes allow. The wasm kernel copies all of x out of
 * its memory first, and above rank 4 then goes element by element.
 */
function slice(
  ctx: Context,
  backend: WasmBackend,
  inputs: Inputs,
  attrs: Attrs,
): tf.TensorInfo | undefined {
  const { x } = inputs;
  const bytes = x.dtype === "bool" ? 1 : 4;
  if (x.dtype === "string" || x.dtype === "complex64") return undefined;
  const [begin, size] = tf.slice_util.parseSliceParams(
    x as tf.Tensor,
    attrs.begin ?? 0,
    attrs.size ?? -1,
  );
  const total = tf.util.sizeFromShape(size);
  if (total < ctx.minMultiplyAdds / 8 || total === 0) return undefined;

  const shape = x.shape;
  let axis = shape.length - 1;
  let run = size[axis];
  let stride = 1;
  while (axis > 0 && size[axis] === shape[axis]) {
    stride *= shape[axis];
    axis--;
    run = size[axis] * stride;
  }
  const strides = [...tf.util.computeStrides(shape), 1];
  const out = backend.makeOutput(size, x.dtype);
  const buffer = backend.wasm.HEAPU8.buffer;
  const heap = bytes === 1 ? new Uint8Array(buffer) : new Int32Array(buffer);
  const from = offsetOf(backend, x) / bytes;
  const to = offsetOf(backend, out) / bytes;
  const runs = { begin, size, strides, axis, run };
  const copy = wasmCodeFor(backend)?.copyRuns;
  if (copy) copyRunsInWasm(copy, bytes, { from, to, total }, runs);
  else copyRuns(heap, { from, to, total }, runs);
  return out;
}

function offsetOf(backend: WasmBackend, t: tf.TensorInfo): number {
  return backend.dataIdMap.get(t.dataId)!.memoryOffset!;
}

interface Runs {
  begin: number[];
  size: number[];
  strides: number[];
  /** The outermost axis inside one run. */
  axis: number;
  /** Elements per run. */
  run: number;
}

/**
 * Copies the slice, `total` elements of the heap from `from` to `to`: one
 * contiguous run per index of the axes before.
 */
function copyRuns(
  heap: Int32Array | Uint8Array,
  { from, to, total }: { from: number; to: number; total: number },
  { begin, size, strides, axis, run }: Runs,
): void {
  const index = new Array<number>(axis).fill(0);
  let src = from;
  for (let i = 0; i <= axis; i++) src += begin[i] * strides[i];
  for (let o = 0; o < total; o += run) {
    copyWords(heap, src, to + o, run);
    let i = axis - 1;
    for (; i >= 0; i--) {
      src += strides[i];
      if (++index[i] < size[i]) break;
      index[i] = 0;
      src -= size[i] * strides[i];
    }
  }
}

/**
 * {@linkcode copyRuns} with the runs along the next outer axis copied by
 * one wasm call (a memory.copy each), so JavaScript loops only over the
 * axes before.
 */
function copyRunsInWasm(
  copy: CopyRuns,
  bytes: number,
  { from, to, total }: { from: number; to: number; total: number },
  { begin, size, strides, axis, run }: Runs,
): void {
  const inner = axis - 1;
  const count = inner >= 0 ? size[inner] : 1;
  const stride = inner >= 0 ? strides[inner] : 0;
  const index = new Array<number>(Math.max(0, inner)).fill(0);
  let src = from;
  for (let i = 0; i <= axis; i++) src += begin[i] * strides[i];
  for (let o = 0; o < total; o += run * count) {
    const runBytes = run * bytes;
    copy(
      src * bytes,
      (to + o) * bytes,
      runBytes,
      count,
      stride * bytes,
      runBytes,
    );
    for (let i = inner - 1; i >= 0; i--) {
      src += strides[i];
      if (++index[i] < size[i]) break;
      index[i] = 0;
      src -= size[i] * strides[i];
    }
  }
}

// --- identity ------------------------------------------------------------

/** A new tensor on the same data: tfjs data are immutable. */
function identity(
  _ctx: Context,
  backend: WasmBackend,
  inputs: Inputs,
): tf.TensorInfo | undefined {
  const { x } = inputs;
  if (x.dtype === "string" || x.dtype === "complex64") return undefined;
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

// --- bias and activations --------------------------------------------------

const ACTIVATIONS = new Set([
  "linear",
  "relu",
  "relu6",
  "leakyrelu",
  "sigmoid",
  "elu",
]);

function supportsActivation(activation: string | undefined): boolean {
  return activation === undefined || ACTIVATIONS.has(activation);
}

function isVectorOf(t: tf.TensorInfo, length: number): boolean {
  return t.dtype === "float32" && t.shape.length === 1 &&
    t.shape[0] === length;
}

/** Writes `row` into each of the `rows` rows of the [rows, n] matrix `c`. */
function fillRows(
  c: Float32Array,
  row: Float32Array,
  rows: number,
  n: number,
): void {
  if (n >= 64) {
    for (let r = 0; r < rows; r++) c.set(row, r * n);
    return;
  }
  for (let r = 0, i = 0; r < rows; r++) {
    for (let j = 0; j < n; j++, i++) c[i] = row[j];
  }
}

/**
 * Applies a fused kernel's activation to `out` in place: relu in one SIMD
 * pass when the wasm code is there (a branch per element mispredicts on
 * real activations: three times slower), the rest in JavaScript.
 */
function activate(
  backend: WasmBackend,
  out: tf.TensorInfo,
  attrs: Attrs,
): void {
  const y = heapView(backend, out);
  const relu = wasmCodeFor(backend)?.relu;
  if (attrs.activation === "relu" && relu) {
    const whole = y.length - (y.length % 4);
    relu(offsetOf(backend, out), whole / 4);
    for (let i = whole; i < y.length; i++) if (y[i] < 0) y[i] = 0;
    return;
  }
  applyActivation(y, attrs.activation, attrs.leakyreluAlpha);
}

function applyActivation(
  y: Float32Array,
  activation: string | undefined,
  alpha = 0,
): void {
  const size = y.length;
  switch (activation) {
    case "relu":
      for (let i = 0; i < size; i++) if (y[i] < 0) y[i] = 0;
      return;
    case "relu6":
      for (let i = 0; i < size; i++) y[i] = Math.min(Math.max(y[i], 0), 6);
      return;
    case "leakyrelu":
      for (let i = 0; i < size; i++) if (y[i] < 0) y[i] *= alpha;
      return;
    case "sigmoid":
      for (let i = 0; i < size; i++) y[i] = 1 / (1 + Math.exp(-y[i]));
      return;
    case "elu":
      for (let i = 0; i < size; i++) if (y[i] < 0) y[i] = Math.expm1(y[i]);
      return;
  }
}
