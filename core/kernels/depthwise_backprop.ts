/**
 * The two gradients of a depthwise 2-D convolution for backends that lack
 * them (wasm), each composed as one depthwise convolution of the backend.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { type Info, KernelScope } from "./_compose.ts";
import { filterWindow, inputWindow } from "./_conv_geometry.ts";
import type { PadArg, Shape4 } from "./_pool_geometry.ts";
import { crop } from "./conv2d_backprop_input.ts";

/** The attributes of the depthwise backprop kernels. */
export interface DepthwiseBackpropAttrs {
  strides: number | [number, number];
  dilations?: number | [number, number];
  pad: PadArg;
  dimRoundingMode?: "floor" | "round" | "ceil";
  /** For the filter gradient: [fh, fw, cIn, multiplier]. */
  filterShape?: Shape4;
  /** For the input gradient: the NHWC shape of x. */
  inputShape?: Shape4;
}

function geometry(
  xShape: number[],
  fShape: number[],
  a: DepthwiseBackpropAttrs,
) {
  return tf.backend_util.computeConv2DInfo(
    xShape as Shape4,
    fShape as Shape4,
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    true,
  );
}

/**
 * dW[a, b, c, m] = sum over n, i, j of x-window times dy[..., c * M + m].
 * Computed as one depthwise convolution over the (example, channel) pairs:
 * x as [1, h, w, n * cIn], dy as a filter [hOut, wOut, n * cIn, M], stride
 * and dilation swapped; the examples are then summed out.
 */
export function depthwiseBackpropFilter(
  backend: tf.KernelBackend,
  backendName: string,
  x: Info,
  dy: Info,
  attrs: DepthwiseBackpropAttrs,
): Info {
  const fShape = attrs.filterShape as Shape4;
  const info = geometry(x.shape, fShape, attrs);
  const [n, h, w, c] = x.shape;
  const [fh, fw, , m] = fShape;
  const { outHeight: ho, outWidth: wo } = info;
  const rows = filterWindow(h, info.padInfo.top, ho, {
    size: fh,
    stride: info.strideHeight,
    dilation: info.dilationHeight,
  });
  const cols = filterWindow(w, info.padInfo.left, wo, {
    size: fw,
    stride: info.strideWidth,
    dilation: info.dilationWidth,
  });
  return KernelScope.compose(backend, backendName, (k) => {
    if (rows.keep === 0 || cols.keep === 0) {
      return k.run("Fill", {}, { shape: fShape, value: 0, dtype: "float32" });
    }
    const xt = k.transpose(k.reshape(x, [n, h * w, c]), [1, 0, 2]);
    let input = k.reshape(xt, [1, h, w, n * c]);
    if (rows.keep < h || cols.keep < w) {
      input = k.run("Slice", { x: input }, {
        begin: [0, 0, 0, 0],
        size: [1, rows.keep, cols.keep, n * c],
      });
    }
    const dyt = k.transpose(k.reshape(dy, [n, ho * wo, c * m]), [1, 0, 2]);
    const filter = k.reshape(dyt, [ho, wo, n * c, m]);
    const out = k.run("DepthwiseConv2dNative", { x: input, filter }, {
      strides: [info.dilationHeight, info.dilationWidth],
      dilations: [info.strideHeight, info.strideWidth],
      pad: [[0, 0], [rows.before, rows.after], [cols.before, cols.after], [
        0,
        0,
      ]],
    });
    const perExample = k.reshape(out, [fh * fw, n, c * m]);
    const summed = k.run("Sum", { x: perExample }, {
      axis: [1],
      keepDims: false,
    });
    return k.reshape(summed, fShape);
  });
}

/**
 * dx[n, h, w, c] = sum over m and taps of dy[..., c * M + m] f[a, b, c, m]:
 * dy spread by the stride, convolved depthwise with the filter rotated by
 * 180 degrees (as [fh, fw, cIn * M, 1]), then summed over the multiplier.
 * Zeros when nothing of dy reaches x.
 */
export function depthwiseBackpropInput(
  backend: tf.KernelBackend,
  backendName: string,
  dy: Info,
  filter: Info,
  attrs: DepthwiseBackpropAttrs,
): Info {
  const xShape = attrs.inputShape as Shape4;
  const info = geometry(xShape, filter.shape, attrs);
  const [n, h, w, c] = xShape;
  const [fh, fw, , m] = filter.shape;
  const [sh, sw] = [info.strideHeight, info.strideWidth];
  const rows = inputWindow(h, info.padInfo.top, info.outHeight, {
    size: fh,
    stride: sh,
    dilation: info.dilationHeight,
  });
  const cols = inputWindow(w, info.padInfo.left, info.outWidth, {
    size: fw,
    stride: sw,
    dilation: info.dilationWidth,
  });
  return KernelScope.compose(backend, backendName, (k) => {
    if (rows === null || cols === null) {
      return k.run("Fill", {}, { shape: xShape, value: 0, dtype: "float32" });
    }
    const [, ho, wo, cm] = dy.shape;
    let up = dy;
    if (sh > 1 || sw > 1) {
      const grid = k.reshape(dy, [n, ho, 1, wo, 1, cm]);
      const spread = k.run("PadV2", { x: grid }, {
        paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]],
        constantValue: 0,
      });
      up = k.reshape(spread, [n, ho * sh, wo * sw, cm]);
    }
    up = crop(k, up, rows, cols);
    const flipped = k.run("Reverse", { x: filter }, { dims: [0, 1] });
    const rotated = k.reshape(flipped, [fh, fw, cm, 1]);
    const out = k.run("DepthwiseConv2dNative", { x: up, filter: rotated }, {
      strides: [1, 1],
      dilations: [info.dilationHeight, info.dilationWidth],
      pad: [[0, 0], [rows.before, rows.after], [cols.before, cols.after], [
        0,
        0,
      ]],
    });
    if (m === 1) return out;
    const split = k.reshape(out, [n, h, w, c, m]);
    return k.run("Sum", { x: split }, { axis: [4], keepDims: false });
  });
}
