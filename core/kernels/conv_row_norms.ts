/**
 * Per-example squared norms of a 2-D convolution's filter gradient in one
 * kernel, where the backend has it (the native pack registers it for wasm:
 * oneDNN's filter-gradient primitive, or im2col and the sgemm, one example
 * at a time on the backend's memory).
 *
 * Written with tfjs ops, the same quantity takes one strided copy of the
 * input and one batched product per filter tap (nine of each for a 3x3
 * filter), each pass reading the whole input again; the copies alone took
 * about a fifth of exact Tr(F) on the ResNet-8.
 *
 * The kernel has no gradient: it measures, it is not trained through.
 *
 * @module
 */
import { tf } from "../tf.ts";

/** fisherlab's kernel: ||dW_i||^2 of each row i of a convolution. */
export const CONV_FILTER_ROW_NORMS = "FisherlabConvFilterRowNorms";

/** The convolution whose filter gradient {@linkcode convFilterRowNorms} takes. */
export interface ConvFilterRowNormsOptions {
  /** The filter's height and width. */
  filterSize: [number, number];
  strides: [number, number];
  padding: "same" | "valid";
}

/**
 * For each row i of the input `x` [n, h, w, cin] and the output gradient
 * `dy` [n, ho, wo, cout] of a convolution (NHWC, no dilation), the squared
 * Frobenius norm of that row's own filter gradient, sum over output
 * positions p of patch_i(p)^T dy_i(p); undefined when the current backend
 * has no such kernel or the inputs are not float32 (compute it with ops).
 * Source: Rochette et al. 2019, arXiv 1912.06015, sec. 3 (per-example
 * convolution gradients).
 *
 * @example One row, a 1x1 filter: the gradient is x^T dy
 * ```ts
 * import { tf } from "../tf.ts";
 * import { convFilterRowNorms } from "./conv_row_norms.ts";
 * const x = tf.tensor4d([1, 2], [1, 1, 2, 1]);
 * const dy = tf.tensor4d([3, 4], [1, 1, 2, 1]);
 * const sq = convFilterRowNorms(x, dy, {
 *   filterSize: [1, 1],
 *   strides: [1, 1],
 *   padding: "valid",
 * });
 * // undefined without the native pack
 * if (sq) console.assert(Math.abs(sq.dataSync()[0] - 121) < 1e-4);
 * ```
 */
export function convFilterRowNorms(
  x: tf.Tensor,
  dy: tf.Tensor,
  options: ConvFilterRowNormsOptions,
): tf.Tensor | undefined {
  if (tf.getKernel(CONV_FILTER_ROW_NORMS, tf.getBackend()) === undefined) {
    return undefined;
  }
  if (x.dtype !== "float32" || dy.dtype !== "float32") return undefined;
  if (x.rank !== 4 || dy.rank !== 4 || x.shape[0] !== dy.shape[0]) {
    throw new RangeError(
      `Cannot take per-example filter-gradient norms: x is ` +
        `[${x.shape}] and dy [${dy.shape}]; give two rank-4 NHWC tensors ` +
        "with the same number of rows",
    );
  }
  const { filterSize, strides, padding } = options;
  return tf.engine().runKernel(CONV_FILTER_ROW_NORMS, { x, dy }, {
    filterSize,
    strides,
    pad: padding,
  }) as tf.Tensor;
}
