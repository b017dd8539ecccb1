/**
 * The wasm kernel for Conv2DBackpropFilter, which tfjs-backend-wasm lacks:
 * the gradient of a 2-D convolution with respect to its filter.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { type Attrs, type Info, KernelScope } from "./_compose.ts";
import { filterWindow } from "./_conv_geometry.ts";

type Pair = [number, number];
type Pad = "valid" | "same" | number | [Pair, Pair, Pair, Pair];

/** The attributes of Conv2DBackpropFilter, plus optional dilations. */
export interface Conv2DBackpropFilterAttrs {
  strides: number | Pair;
  pad: Pad;
  dataFormat?: "NHWC" | "NCHW";
  dimRoundingMode?: "floor" | "round" | "ceil";
  filterShape: [number, number, number, number];
  /** Filter dilations; tfjs's own ops never pass them, default 1. */
  dilations?: number | Pair;
}

/**
 * dW = sum over examples and output positions of x-window times dy, for NHWC
 * x of shape [n, h, w, cIn] and dy of shape [n, hOut, wOut, cOut].
 *
 * It is computed as one convolution with the roles swapped: x transposed to
 * [cIn, h, w, n] is the input, dy transposed to [hOut, wOut, n, cOut] is the
 * filter, the forward stride becomes the dilation and the forward dilation
 * the stride. The output [cIn, fh, fw, cOut] is transposed back.
 */
export function conv2dBackpropFilter(
  backend: tf.KernelBackend,
  backendName: string,
  x: Info,
  dy: Info,
  attrs: Conv2DBackpropFilterAttrs,
): Info {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== "NHWC") {
    throw new Error(
      `Cannot compute Conv2DBackpropFilter on "${backendName}": data format ` +
        `"${attrs.dataFormat}" is not supported; use "NHWC"`,
    );
  }
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterShape,
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
  const rows = filterWindow(info.inHeight, info.padInfo.top, info.outHeight, {
    size: info.filterHeight,
    stride: info.strideHeight,
    dilation: info.dilationHeight,
  });
  const cols = filterWindow(info.inWidth, info.padInfo.left, info.outWidth, {
    size: info.filterWidth,
    stride: info.strideWidth,
    dilation: info.dilationWidth,
  });
  return KernelScope.compose(backend, backendName, (k) => {
    if (rows.keep === 0 || cols.keep === 0) {
      // Every window lies in the padding: the filter gets no gradient.
      const shape = attrs.filterShape;
      return k.run("Fill", {}, { shape, value: 0, dtype: "float32" });
    }
    let input = k.transpose(x, [3, 1, 2, 0]);
    if (rows.keep < info.inHeight || cols.keep < info.inWidth) {
      const [c, , , n] = input.shape;
      input = k.run("Slice", { x: input }, {
        begin: [0, 0, 0, 0],
        size: [c, rows.keep, cols.keep, n],
      });
    }
    const filter = k.transpose(dy, [1, 2, 0, 3]);
    const out = k.run(
      "Conv2D",
      { x: input, filter },
      {
        strides: [info.dilationHeight, info.dilationWidth],
        dilations: [info.strideHeight, info.strideWidth],
        pad: [[0, 0], [rows.before, rows.after], [cols.before, cols.after], [
          0,
          0,
        ]],
        dataFormat: "NHWC",
      } satisfies Attrs,
    );
    return k.transpose(out, [1, 2, 0, 3]);
  });
}
