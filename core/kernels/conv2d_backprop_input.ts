/**
 * Conv2DBackpropInput, the gradient of a 2-D convolution with respect to its
 * input, composed as one forward convolution: dy (with zeros inserted between
 * rows and columns when the stride is above 1) convolved with the filter
 * rotated by 180 degrees and its channel axes swapped.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { type Info, KernelScope } from "./_compose.ts";
import type { PadArg, Shape4 } from "./_pool_geometry.ts";
import { inputWindow } from "./_conv_geometry.ts";

/** The attributes of Conv2DBackpropInput. */
export interface Conv2DBackpropInputAttrs {
  strides: number | [number, number];
  pad: PadArg;
  dataFormat?: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  inputShape: Shape4;
}

/**
 * dx for dy of shape [n, hOut, wOut, cOut] and filter [fh, fw, cIn, cOut];
 * null when it does not apply (NCHW, or nothing of dy reaches x), which the
 * caller then leaves to the backend's own kernel.
 */
export function conv2dBackpropInput(
  backend: tf.KernelBackend,
  backendName: string,
  dy: Info,
  filter: Info,
  attrs: Conv2DBackpropInputAttrs,
): Info | null {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== "NHWC") {
    return null;
  }
  const info = tf.backend_util.computeConv2DInfo(
    attrs.inputShape,
    filter.shape as Shape4,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const rows = inputWindow(info.inHeight, info.padInfo.top, info.outHeight, {
    size: info.filterHeight,
    stride: info.strideHeight,
    dilation: 1,
  });
  const cols = inputWindow(info.inWidth, info.padInfo.left, info.outWidth, {
    size: info.filterWidth,
    stride: info.strideWidth,
    dilation: 1,
  });
  if (rows === null || cols === null) return null;
  return KernelScope.compose(backend, backendName, (k) => {
    let up = dy;
    const [n, ho, wo, co] = dy.shape;
    const [sh, sw] = [info.strideHeight, info.strideWidth];
    if (sh > 1 || sw > 1) {
      // Insert stride - 1 zeros after every row and column of dy.
      const grid = k.reshape(dy, [n, ho, 1, wo, 1, co]);
      const spread = k.run("PadV2", { x: grid }, {
        paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]],
        constantValue: 0,
      });
      up = k.reshape(spread, [n, ho * sh, wo * sw, co]);
    }
    up = crop(k, up, rows, cols);
    const flipped = k.run("Reverse", { x: filter }, { dims: [0, 1] });
    const rotated = k.transpose(flipped, [0, 1, 3, 2]);
    return k.run("Conv2D", { x: up, filter: rotated }, {
      strides: [1, 1],
      dilations: [1, 1],
      pad: [[0, 0], [rows.before, rows.after], [cols.before, cols.after], [
        0,
        0,
      ]],
      dataFormat: "NHWC",
    });
  });
}

interface Crop {
  cropFront: number;
  cropBack: number;
}

/** Drops leading and trailing rows and columns of an NHWC tensor. */
export function crop(k: KernelScope, x: Info, rows: Crop, cols: Crop): Info {
  if (rows.cropFront + rows.cropBack + cols.cropFront + cols.cropBack === 0) {
    return x;
  }
  const [n, h, w, c] = x.shape;
  return k.run("Slice", { x }, {
    begin: [0, rows.cropFront, cols.cropFront, 0],
    size: [
      n,
      h - rows.cropFront - rows.cropBack,
      w - cols.cropFront - cols.cropBack,
      c,
    ],
  });
}
