/**
 * Gradients that tfjs does not register, so that gradients of gradients
 * (Hessian-vector products, the Fisher penalty) work through convolution and
 * pooling layers on every backend.
 *
 * Each gradient is built from differentiable ops, so a third derivative
 * works wherever the ops it uses have gradients.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { batchNormTrainingGrad } from "./batch_norm_training.ts";
import { crossEntropyGrad, crossEntropyGradZGrad } from "./cross_entropy.ts";
import { denseGrad } from "./dense.ts";
import { dotGrad, squaredNormGrad } from "./dot.ts";
import {
  type PadArg,
  type PoolAttrs,
  poolInfo,
  type Shape4,
  validTaps,
} from "./_pool_geometry.ts";

type Tensor = tf.Tensor;

/**
 * The name of fisherlab's kernel that reads an x-shaped tensor at each
 * pooling window's first maximum of x (registered on wasm and cpu).
 */
export const PICK_AT_ARGMAX = "FisherlabPickAtArgmax";
type Tensor4D = tf.Tensor4D;

interface Conv2DBackpropFilterAttrs {
  strides: number | [number, number];
  pad: PadArg;
  dataFormat?: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  filterShape: Shape4;
  dilations?: number | [number, number];
}

/**
 * Conv2DBackpropFilter computes dW = B(x, dy), bilinear in x and dy. With
 * upstream U of the filter's shape, <U, B(x, dy)> equals
 * <x, conv2DBackpropInput(dy, U)> and <dy, conv2d(x, U)>.
 */
const conv2DBackpropFilterGrad: tf.GradConfig = {
  kernelName: "Conv2DBackpropFilter",
  inputsToSave: ["x", "dy"],
  gradFunc: (upstream, saved, attrs) => {
    const [x, dy] = saved as Tensor4D[];
    const u = upstream as Tensor4D;
    const a = attrs as unknown as Conv2DBackpropFilterAttrs;
    const dilations = a.dilations ?? 1;
    if ([dilations].flat().some((d) => d !== 1)) {
      throw new Error(
        "Cannot differentiate Conv2DBackpropFilter: dilations " +
          `"${dilations}" are not supported; use dilations 1`,
      );
    }
    return {
      x: () =>
        tf.engine().runKernel("Conv2DBackpropInput", { dy, filter: u }, {
          strides: a.strides,
          pad: a.pad,
          dataFormat: a.dataFormat ?? "NHWC",
          dimRoundingMode: a.dimRoundingMode,
          inputShape: x.shape,
        } as unknown as tf.NamedAttrMap) as Tensor,
      dy: () =>
        tf.conv2d(
          x,
          u,
          a.strides,
          a.pad,
          a.dataFormat ?? "NHWC",
          1,
          a.dimRoundingMode,
        ),
    };
  },
};

interface DepthwiseAttrs {
  strides: number | [number, number];
  pad: PadArg;
  dilations?: number | [number, number];
  dimRoundingMode?: "floor" | "round" | "ceil";
}

function depthwise(x: Tensor, filter: Tensor, a: DepthwiseAttrs): Tensor {
  return tf.depthwiseConv2d(
    x as Tensor4D,
    filter as Tensor4D,
    a.strides,
    a.pad as "same",
    "NHWC",
    a.dilations ?? 1,
    a.dimRoundingMode,
  );
}

function runKernel(name: string, inputs: tf.NamedTensorMap, attrs: object) {
  return tf.engine().runKernel(
    name,
    inputs,
    attrs as unknown as tf.NamedAttrMap,
  ) as Tensor;
}

/**
 * The depthwise filter gradient B(x, dy) is bilinear: with upstream U of the
 * filter's shape, <U, B> = <x, backpropInput(dy, U)> = <dy, depthwise(x, U)>.
 */
const depthwiseFilterGrad: tf.GradConfig = {
  kernelName: "DepthwiseConv2dNativeBackpropFilter",
  inputsToSave: ["x", "dy"],
  gradFunc: (upstream, saved, attrs) => {
    const [x, dy] = saved;
    const u = upstream as Tensor;
    const a = attrs as unknown as DepthwiseAttrs;
    return {
      x: () =>
        runKernel("DepthwiseConv2dNativeBackpropInput", { dy, filter: u }, {
          ...a,
          inputShape: x.shape,
        }),
      dy: () => depthwise(x, u, a),
    };
  },
};

/**
 * The depthwise input gradient B(dy, f) is bilinear: with upstream U of x's
 * shape, <U, B> = <dy, depthwise(U, f)> = <f, backpropFilter(U, dy)>.
 */
const depthwiseInputGrad: tf.GradConfig = {
  kernelName: "DepthwiseConv2dNativeBackpropInput",
  inputsToSave: ["dy", "filter"],
  gradFunc: (upstream, saved, attrs) => {
    const [dy, filter] = saved;
    const u = upstream as Tensor;
    const a = attrs as unknown as DepthwiseAttrs;
    return {
      dy: () => depthwise(u, filter, a),
      filter: () =>
        runKernel("DepthwiseConv2dNativeBackpropFilter", { x: u, dy }, {
          ...a,
          filterShape: filter.shape,
        }),
    };
  },
};

/**
 * MaxPoolGrad routes dy to each window's first maximum of x. It is linear in
 * dy and piecewise constant in x and y, so its gradient with respect to dy
 * picks the upstream at each window's argmax, and is zero for x and y.
 */
const maxPoolGradGrad: tf.GradConfig = {
  kernelName: "MaxPoolGrad",
  inputsToSave: ["input", "output"],
  gradFunc: (upstream, saved, attrs) => {
    const [x, y] = saved;
    const u = upstream as Tensor;
    return {
      dy: () => pickAtArgmax(x, u, attrs as unknown as PoolAttrs),
      input: () => tf.zerosLike(x),
      output: () => tf.zerosLike(y),
    };
  },
};

/**
 * The kernel behind {@linkcode pickAtArgmax} on backends that have one (wasm
 * and cpu). It is linear in u: its transpose routes the upstream to each
 * window's first maximum, which is MaxPoolGrad; x only selects, so its
 * gradient is zero.
 */
const pickAtArgmaxGrad: tf.GradConfig = {
  kernelName: PICK_AT_ARGMAX,
  inputsToSave: ["x"],
  gradFunc: (upstream, saved, attrs) => {
    const [x] = saved as Tensor4D[];
    const a = attrs as unknown as PoolAttrs;
    return {
      u: () =>
        tf.engine().runKernel("MaxPoolGrad", {
          dy: upstream as Tensor,
          input: x,
          output: tf.maxPool(x, a.filterSize, a.strides, a.pad as "valid"),
        }, attrs) as Tensor,
      x: () => tf.zerosLike(x),
    };
  },
};

/**
 * For every pooling window of x, the entry of `u` at the window's first
 * maximum of x (tfjs's tie rule). Differentiable in `u`.
 */
export function pickAtArgmax(x: Tensor, u: Tensor, attrs: PoolAttrs): Tensor {
  if (tf.getKernel(PICK_AT_ARGMAX, tf.getBackend())) {
    return tf.engine().runKernel(
      PICK_AT_ARGMAX,
      { x, u },
      attrs as unknown as tf.NamedAttrMap,
    ) as Tensor;
  }
  return composedPick(x, u, attrs);
}

/**
 * {@linkcode pickAtArgmax} from pad, slice, greater and where, for backends
 * without the kernel. It differs from the kernel (the exact transpose of
 * MaxPoolGrad) only where a window's first tap is NaN or no tap is above
 * -Infinity: it then reads the first tap's u.
 */
export function composedPick(x: Tensor, u: Tensor, attrs: PoolAttrs): Tensor {
  return tf.tidy(() => {
    const xs = windowTaps(x, attrs, -Infinity);
    const us = windowTaps(u, attrs, 0);
    let best = xs[0];
    let picked = us[0];
    for (let k = 1; k < xs.length; k++) {
      const take = tf.greater(xs[k], best);
      best = tf.where(take, xs[k], best);
      picked = tf.where(take, us[k], picked);
    }
    return picked;
  });
}

/**
 * The values of `t` under each tap of each pooling window: one tensor of the
 * pool's output shape per tap, taps in row-major order. Entries outside `t`
 * read `fill`. Built from pad, slice and reshape, which all have gradients.
 */
export function windowTaps(
  t: Tensor,
  attrs: PoolAttrs,
  fill: number,
): Tensor[] {
  const info = poolInfo(t.shape, attrs);
  const [n, h, w, c] = t.shape;
  const { outHeight: ho, outWidth: wo } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const { top, left } = info.padInfo;
  // Pad (or crop) to whole strides: row r of the padded input is then phase
  // r % sh of stride row floor(r / sh), and each tap is one slice per axis.
  const ph = sh * (ho + Math.ceil((info.filterHeight - 1) / sh));
  const pw = sw * (wo + Math.ceil((info.filterWidth - 1) / sw));
  const keepH = Math.min(h, ph - top);
  const keepW = Math.min(w, pw - left);
  const cropped = keepH < h || keepW < w
    ? tf.slice(t, [0, 0, 0, 0], [n, keepH, keepW, c])
    : t;
  const padded = tf.pad(cropped, [
    [0, 0],
    [top, ph - top - keepH],
    [left, pw - left - keepW],
    [0, 0],
  ], fill);
  const byRow = tf.reshape(padded, [n, ph / sh, sh, pw * c]);
  const taps: Tensor[] = [];
  for (let a = 0; a < info.filterHeight; a++) {
    const rows = tf.slice(
      byRow,
      [0, Math.floor(a / sh), a % sh, 0],
      [n, ho, 1, pw * c],
    );
    const byCol = tf.reshape(rows, [n * ho, pw / sw, sw, c]);
    for (let b = 0; b < info.filterWidth; b++) {
      const tap = tf.slice(
        byCol,
        [0, Math.floor(b / sw), b % sw, 0],
        [n * ho, wo, 1, c],
      );
      taps.push(tf.reshape(tap, [n, ho, wo, c]));
    }
  }
  return taps;
}

/**
 * The ratio window size / taps inside the input, per output position, as a
 * [1, outHeight, outWidth, 1] tensor; null where every window is full.
 */
function fullOverValid(inShape: number[], attrs: PoolAttrs): Tensor | null {
  const info = poolInfo(inShape, attrs);
  const rows = validTaps(
    info.inHeight,
    info.outHeight,
    info.filterHeight,
    info.strideHeight,
    info.padInfo.top,
  );
  const cols = validTaps(
    info.inWidth,
    info.outWidth,
    info.filterWidth,
    info.strideWidth,
    info.padInfo.left,
  );
  const size = info.filterHeight * info.filterWidth;
  const ratio = new Float32Array(rows.length * cols.length);
  let partial = false;
  rows.forEach((r, i) =>
    cols.forEach((c, j) => {
      ratio[i * cols.length + j] = size / Math.max(1, r * c);
      if (r * c !== size) partial = true;
    })
  );
  if (!partial) return null;
  return tf.tensor4d(ratio, [1, rows.length, cols.length, 1]);
}

/**
 * AvgPool divides each window's sum by the number of its taps inside the
 * input, but tfjs's AvgPoolGrad divides by the full window size: with
 * padding, tfjs's own gradient of avgPool is wrong at the borders. This
 * gradient rescales dy first, which makes it exact.
 */
const avgPoolGrad: tf.GradConfig = {
  kernelName: "AvgPool",
  inputsToSave: ["x"],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const a = attrs as unknown as PoolAttrs;
    const dyTensor = dy as Tensor;
    return {
      x: () => {
        const ratio = fullOverValid(x.shape, a);
        const scaled = ratio === null ? dyTensor : tf.mul(dyTensor, ratio);
        return tf.engine().runKernel("AvgPoolGrad", { dy: scaled, input: x }, {
          filterSize: a.filterSize,
          strides: a.strides,
          pad: a.pad,
        } as unknown as tf.NamedAttrMap) as Tensor;
      },
    };
  },
};

/**
 * AvgPoolGrad spreads dy[o] / (window size) over window o, linear in dy. Its
 * transpose sums the upstream over each window and divides by the window
 * size, which is avgPool (a mean over the taps inside) times valid / full.
 */
const avgPoolGradGrad: tf.GradConfig = {
  kernelName: "AvgPoolGrad",
  inputsToSave: ["input"],
  gradFunc: (upstream, saved, attrs) => {
    const [x] = saved;
    const a = attrs as unknown as PoolAttrs;
    return {
      dy: () => {
        const pooled = tf.avgPool(
          upstream as Tensor4D,
          a.filterSize,
          a.strides,
          a.pad as "same",
        );
        const ratio = fullOverValid(x.shape, a);
        return ratio === null ? pooled : tf.div(pooled, ratio);
      },
      input: () => tf.zerosLike(x),
    };
  },
};

/**
 * Comparison and logic kernels: piecewise constant, so their gradient is
 * zero. tfjs registers none, which breaks second derivatives through ops
 * whose gradients use them (Maximum, Select, Relu6, ...).
 */
const ZERO_GRADIENT_KERNELS: Record<string, string[]> = {
  Equal: ["a", "b"],
  NotEqual: ["a", "b"],
  Greater: ["a", "b"],
  GreaterEqual: ["a", "b"],
  Less: ["a", "b"],
  LessEqual: ["a", "b"],
  LogicalAnd: ["a", "b"],
  LogicalOr: ["a", "b"],
  LogicalXor: ["a", "b"],
  LogicalNot: ["x"],
  IsNan: ["x"],
  IsInf: ["x"],
  IsFinite: ["x"],
};

/**
 * Tile's gradient as one reshape and one sum: with dy viewed as
 * [reps0, size0, reps1, size1, ...], the copies are summed over the reps
 * axes. tfjs's adds one slice per copy, so a batch-norm layer's gradient
 * (which tiles over N x H x W) made second derivatives take N H W ops.
 */
const tileGrad: tf.GradConfig = {
  kernelName: "Tile",
  inputsToSave: ["x"],
  gradFunc: (dy, saved, attrs) => {
    const [x] = saved;
    const reps = (attrs as unknown as { reps: number[] }).reps;
    return {
      x: () => {
        const { sizes, copies } = tileAxes(x.shape, reps);
        if (copies.length === 0) return tf.reshape(dy as Tensor, x.shape);
        return tf.reshape(
          tf.sum(tf.reshape(dy as Tensor, sizes), copies),
          x.shape,
        );
      },
    };
  },
};

/**
 * The axes of a tiled tensor as (copies, size) pairs, with axes of length
 * 1 dropped and neighbours of the same kind merged: tiling [1, 1, 1, C] by
 * [N, H, W, 1] is [N H W, C], summed over axis 0. The rank stays small
 * (webgpu reduces at most rank 6) and the sum runs over long rows.
 */
export function tileAxes(
  shape: readonly number[],
  reps: readonly number[],
): { sizes: number[]; copies: number[] } {
  const sizes: number[] = [];
  const summed: boolean[] = [];
  const push = (size: number, copy: boolean) => {
    if (size === 1) return;
    if (summed.length > 0 && summed[summed.length - 1] === copy) {
      sizes[sizes.length - 1] *= size;
    } else {
      sizes.push(size);
      summed.push(copy);
    }
  };
  shape.forEach((size, i) => {
    push(reps[i], true);
    push(size, false);
  });
  const copies = summed.flatMap((copy, i) => copy ? [i] : []);
  return { sizes, copies };
}

/**
 * FusedBatchNorm's gradient, y = (x - mean) / sqrt(variance + eps) * scale
 * + offset, with the per-channel factors broadcast rather than tiled
 * (tfjs's tiles them to x's shape, a full-size copy per call whose own
 * gradient then slices). With statistics per channel (rank 1), the
 * per-channel factors are taken out of the sums: the five gradients need
 * three full-size products (dy g / s, dy (x - mean), x - mean) and two
 * sums, sum(dy) and sum(dy (x - mean)), each shared by two gradients.
 */
const fusedBatchNormGrad: tf.GradConfig = {
  kernelName: "FusedBatchNorm",
  inputsToSave: ["x", "mean", "variance", "scale"],
  gradFunc: (dy, saved, attrs) => {
    const eps = (attrs as unknown as { varianceEpsilon: number })
      .varianceEpsilon;
    const [x, mean, variance, scale] = saved;
    const u = dy as Tensor;
    const gamma = scale ?? tf.scalar(1);
    const inv = tf.rsqrt(tf.add(variance, tf.scalar(eps)));
    const centered = tf.sub(x, mean);
    if (mean.rank !== 1) {
      return broadcastBatchNormGrad(u, gamma, inv, centered, mean);
    }
    // Sums over every axis but the channel one, computed here and not in
    // the closures: tfjs runs each closure in its own scope, so a tensor
    // one closure made and another reused would already be disposed.
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const sumU = tf.sum(u, axes);
    const sumUc = tf.sum(tf.mul(u, centered), axes);
    const gammaInv = tf.mul(gamma, inv);
    return {
      x: () => tf.mul(u, gammaInv),
      mean: () => tf.reshape(tf.neg(tf.mul(sumU, gammaInv)), mean.shape),
      variance: () =>
        tf.reshape(
          tf.mul(
            sumUc,
            tf.mul(gamma, tf.mul(tf.pow(inv, tf.scalar(3)), tf.scalar(-0.5))),
          ),
          mean.shape,
        ),
      scale: () => tf.reshape(tf.mul(sumUc, inv), mean.shape),
      offset: () => tf.reshape(sumU, mean.shape),
    };
  },
};

/** FusedBatchNorm's gradient for statistics that broadcast as they are. */
function broadcastBatchNormGrad(
  u: Tensor,
  gamma: Tensor,
  inv: Tensor,
  centered: Tensor,
  mean: Tensor,
) {
  const scaledDy = tf.mul(u, gamma);
  const shaped = (t: Tensor) => tf.reshape(t, mean.shape);
  return {
    x: () => tf.mul(scaledDy, inv),
    mean: () => shaped(tf.neg(tf.mul(scaledDy, inv))),
    variance: () =>
      shaped(
        tf.mul(
          tf.mul(scaledDy, centered),
          tf.mul(tf.pow(inv, tf.scalar(3)), tf.scalar(-0.5)),
        ),
      ),
    scale: () => shaped(tf.mul(u, tf.mul(centered, inv))),
    offset: () => shaped(u),
  };
}

/**
 * The gradients of Sum and Mean: dy broadcast back over the reduced axes
 * (divided by their size for Mean) with one Tile. tfjs's multiply dy by a
 * tensor of ones it builds in JavaScript and uploads, three full-size
 * passes (four for Mean) where this is one.
 */
function reductionGrad(kernelName: "Sum" | "Mean"): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: ["x"],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved;
      const axes = tf.util.parseAxisParam(
        (attrs as unknown as { axis: number | number[] }).axis,
        x.shape,
      );
      const kept = x.shape.map((d, i) => axes.includes(i) ? 1 : d);
      return {
        x: () => {
          let g = tf.reshape(dy as Tensor, kept);
          if (kernelName === "Mean") {
            const count = axes.reduce((n, a) => n * x.shape[a], 1);
            g = tf.div(g, tf.scalar(count));
          }
          return tf.broadcastTo(g, x.shape);
        },
      };
    },
  };
}

function zeroGradient(kernelName: string, inputs: string[]): tf.GradConfig {
  return {
    kernelName,
    inputsToSave: inputs,
    gradFunc: (_dy, saved) =>
      Object.fromEntries(
        inputs.map((name, i) => [
          name,
          () => tf.zeros(saved[i].shape, "float32"),
        ]),
      ),
  };
}

/** Every gradient this module adds, keyed by kernel name. */
export const GRADIENTS: readonly tf.GradConfig[] = [
  conv2DBackpropFilterGrad,
  depthwiseFilterGrad,
  depthwiseInputGrad,
  maxPoolGradGrad,
  pickAtArgmaxGrad,
  avgPoolGrad,
  avgPoolGradGrad,
  tileGrad,
  fusedBatchNormGrad,
  reductionGrad("Sum"),
  reductionGrad("Mean"),
  batchNormTrainingGrad,
  crossEntropyGrad,
  crossEntropyGradZGrad,
  denseGrad,
  dotGrad,
  squaredNormGrad,
  ...Object.entries(ZERO_GRADIENT_KERNELS).map(([k, inputs]) =>
    zeroGradient(k, inputs)
  ),
];

/**
 * Kernels whose tfjs gradient is replaced: it exists but is wrong (AvgPool)
 * or takes an op per tiled copy (Tile, and FusedBatchNorm, which tiles),
 * or builds a full-size tensor of ones in JavaScript (Sum, Mean).
 */
const REPLACED = new Set(["AvgPool", "Tile", "FusedBatchNorm", "Sum", "Mean"]);

/**
 * Registers the missing gradients and the replacements above in tfjs's
 * global registry; other gradients tfjs already has are left alone.
 * Calling it again does nothing.
 */
export function registerGradients(): void {
  for (const config of GRADIENTS) {
    const existing = tf.getGradient(config.kernelName);
    if (existing === config) continue;
    if (existing && !REPLACED.has(config.kernelName)) continue;
    tf.registerGradient(config);
  }
}
