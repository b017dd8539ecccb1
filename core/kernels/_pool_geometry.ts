/**
 * Window geometry shared by the pooling gradients: where each window of a
 * 2-D pool or convolution starts, and how many of its taps fall inside the
 * input.
 *
 * @module
 */
import { tf } from "../tf.ts";

/** NHWC shape. */
export type Shape4 = [number, number, number, number];

/** Explicit NHWC padding, as tfjs takes it. */
export type ExplicitPad = [
  [number, number],
  [number, number],
  [number, number],
  [number, number],
];

/** The padding argument of tfjs's pooling and convolution ops. */
export type PadArg = "valid" | "same" | number | ExplicitPad;

/** The attributes every 2-D pooling kernel carries. */
export interface PoolAttrs {
  filterSize: number | [number, number];
  strides: number | [number, number];
  pad: PadArg;
  dimRoundingMode?: "floor" | "round" | "ceil";
}

/** tfjs's own geometry for a pool over an NHWC input of shape `inShape`. */
export function poolInfo(
  inShape: number[],
  attrs: PoolAttrs,
): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computePool2DInfo(
    inShape as Shape4,
    attrs.filterSize,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
  );
}

/**
 * For each output position along one axis, how many of the window's `size`
 * taps land inside an input of length `length`.
 */
export function validTaps(
  length: number,
  outLength: number,
  size: number,
  stride: number,
  before: number,
): number[] {
  const counts: number[] = [];
  for (let o = 0; o < outLength; o++) {
    const start = o * stride - before;
    const first = Math.max(0, start);
    const last = Math.min(length, start + size);
    counts.push(Math.max(0, last - first));
  }
  return counts;
}
