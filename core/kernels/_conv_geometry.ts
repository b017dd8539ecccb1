/**
 * Along one spatial axis, the geometry of the convolutions that compute a
 * convolution's two gradients: which input entries they read and how much
 * zero padding they need.
 *
 * @module
 */

/** A filter along one axis: taps, stride and dilation of the forward conv. */
export interface Taps {
  size: number;
  stride: number;
  dilation: number;
}

/**
 * For the filter gradient as a convolution of x with dy (stride and dilation
 * swapped): how many entries of x it reads (`keep`) and the zeros before and
 * after them, so that it yields exactly `taps.size` outputs.
 */
export function filterWindow(
  length: number,
  padBefore: number,
  outLength: number,
  taps: Taps,
): { before: number; keep: number; after: number } {
  const needed = (taps.size - 1) * taps.dilation +
    (outLength - 1) * taps.stride + 1;
  const before = Math.min(padBefore, needed);
  const keep = Math.max(0, Math.min(length, needed - padBefore));
  return { before, keep, after: needed - before - keep };
}

/**
 * For the input gradient as a stride-1 convolution of dy, spread by the
 * stride (outLength * stride entries, zeros after each), with the rotated
 * filter: entries of the spread dy to drop in front and at the back, and the
 * zeros to add before and after, so that it yields `length` outputs. Null
 * when nothing of dy would be left.
 */
export function inputWindow(
  length: number,
  padBefore: number,
  outLength: number,
  taps: Taps,
):
  | { before: number; after: number; cropFront: number; cropBack: number }
  | null {
  const reach = (taps.size - 1) * taps.dilation;
  let before = reach - padBefore;
  let cropFront = 0;
  if (before < 0) [cropFront, before] = [-before, 0];
  const spread = outLength * taps.stride;
  // before + (spread - crops) + after - reach must equal length.
  let after = length + reach - before - (spread - cropFront);
  let cropBack = 0;
  if (after < 0) [cropBack, after] = [-after, 0];
  if (cropFront + cropBack >= spread) return null;
  return { before, after, cropFront, cropBack };
}
