/**
 * Lowering a 2-D convolution (NHWC) to a matrix product: im2col gathers, for
 * each output pixel, the input patch its filter sees into one row; col2im
 * adds such rows back onto the input positions they came from.
 *
 * A row of the column matrix is laid out (kh, kw, c), which matches a filter
 * of shape [kh, kw, inC, outC] read as a [kh * kw * inC, outC] matrix.
 *
 * @module
 */
import type { tf } from "../tf.ts";

/** Below this many input channels, gather tap by tap rather than by rows. */
const PLANES_BELOW = 8;

/** The sizes of one NHWC convolution. */
export interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  dilationH: number;
  dilationW: number;
  padTop: number;
  padLeft: number;
}

/** The geometry tfjs computes for these attributes, if it is NHWC. */
export function convGeometry(
  info: tf.backend_util.Conv2DInfo,
): ConvGeometry | undefined {
  if (info.dataFormat !== "channelsLast") return undefined;
  return {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    kH: info.filterHeight,
    kW: info.filterWidth,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    dilationH: info.dilationHeight,
    dilationW: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** A string naming every size of `g`, for caches keyed by geometry. */
export function geometryKey(g: ConvGeometry): string {
  return [
    g.batch,
    g.inH,
    g.inW,
    g.inC,
    g.outH,
    g.outW,
    g.outC,
    g.kH,
    g.kW,
    g.strideH,
    g.strideW,
    g.dilationH,
    g.dilationW,
    g.padTop,
    g.padLeft,
  ].join();
}

/** Length of one row of the column matrix: kh * kw * inC. */
export function patchSize(g: ConvGeometry): number {
  return g.kH * g.kW * g.inC;
}

/** True when the column matrix is the input itself (1x1, stride 1). */
export function isPointwise(g: ConvGeometry): boolean {
  return g.kH === 1 && g.kW === 1 && g.strideH === 1 && g.strideW === 1 &&
    g.padTop === 0 && g.padLeft === 0 && g.outH === g.inH &&
    g.outW === g.inW;
}

/**
 * Writes the column matrix of images [first, first + count) of `x` into
 * `col`, row (n - first, oh, ow) at offset ((n - first) * outH + oh) * outW
 * + ow times the patch size. Positions in the padding read as zero.
 */
export function im2col(
  x: Float32Array,
  g: ConvGeometry,
  first: number,
  count: number,
  col: Float32Array,
): void {
  if (g.inC < PLANES_BELOW) im2colPlanes(x, g, first, count, col);
  else im2colRows(x, g, first, count, col);
}

/**
 * Row by row: copies runs of kW * inC floats with TypedArray.set (a
 * memcpy); fast for many channels.
 */
function im2colRows(
  x: Float32Array,
  g: ConvGeometry,
  first: number,
  count: number,
  col: Float32Array,
): void {
  const { inH, inW, inC, kH, kW, dilationH, dilationW } = g;
  const run = kW * inC;
  const imageSize = inH * inW * inC;
  let dst = 0;
  for (let n = first; n < first + count; n++) {
    const image = n * imageSize;
    for (let oh = 0; oh < g.outH; oh++) {
      const ih0 = oh * g.strideH - g.padTop;
      for (let ow = 0; ow < g.outW; ow++) {
        const iw0 = ow * g.strideW - g.padLeft;
        const inside = dilationW === 1 && iw0 >= 0 && iw0 + kW <= inW;
        for (let kh = 0; kh < kH; kh++, dst += run) {
          const ih = ih0 + kh * dilationH;
          if (ih < 0 || ih >= inH) {
            col.fill(0, dst, dst + run);
            continue;
          }
          const row = image + ih * inW * inC;
          if (inside) {
            const src = row + iw0 * inC;
            col.set(x.subarray(src, src + run), dst);
            continue;
          }
          for (let kw = 0, d = dst; kw < kW; kw++, d += inC) {
            const iw = iw0 + kw * dilationW;
            if (iw < 0 || iw >= inW) col.fill(0, d, d + inC);
            else col.set(x.subarray(row + iw * inC, row + (iw + 1) * inC), d);
          }
        }
      }
    }
  }
}

/** Tap by tap: long strided loops over ow; fast for few channels. */
function im2colPlanes(
  x: Float32Array,
  g: ConvGeometry,
  first: number,
  count: number,
  col: Float32Array,
): void {
  const { inH, inW, inC, outH, outW, kH, kW } = g;
  const p = patchSize(g);
  const sW = g.strideW * inC;
  for (let n = first; n < first + count; n++) {
    const image = n * inH * inW * inC;
    for (let oh = 0; oh < outH; oh++) {
      const rows = ((n - first) * outH + oh) * outW * p;
      for (let kh = 0; kh < kH; kh++) {
        const ih = oh * g.strideH - g.padTop + kh * g.dilationH;
        const rowValid = ih >= 0 && ih < inH;
        for (let kw = 0; kw < kW; kw++) {
          const offset = (kw * g.dilationW - g.padLeft) * inC;
          const [lo, hi] = rowValid ? validRange(g, kw) : [outW, outW];
          const dst0 = rows + (kh * kW + kw) * inC;
          zeroColumns(col, dst0, p, inC, 0, lo);
          zeroColumns(col, dst0, p, inC, Math.max(lo, hi), outW);
          let src = image + ih * inW * inC + offset + lo * sW;
          let dst = dst0 + lo * p;
          if (inC === 1) {
            for (let ow = lo; ow < hi; ow++, src += sW, dst += p) {
              col[dst] = x[src];
            }
            continue;
          }
          for (let ow = lo; ow < hi; ow++, src += sW, dst += p) {
            for (let c = 0; c < inC; c++) col[dst + c] = x[src + c];
          }
        }
      }
    }
  }
}

/** The output columns [lo, hi) whose tap kw falls inside the input. */
function validRange(g: ConvGeometry, kw: number): [number, number] {
  const shift = kw * g.dilationW - g.padLeft;
  const lo = Math.max(0, Math.ceil(-shift / g.strideW));
  const hi = Math.min(g.outW, Math.ceil((g.inW - shift) / g.strideW));
  return [lo, Math.max(lo, hi)];
}

function zeroColumns(
  col: Float32Array,
  dst0: number,
  p: number,
  inC: number,
  from: number,
  to: number,
): void {
  for (let ow = from, d = dst0 + from * p; ow < to; ow++, d += p) {
    for (let c = 0; c < inC; c++) col[d + c] = 0;
  }
}

/**
 * Adds the column matrix `col` of images [first, first + count) onto `dx`,
 * the inverse gather of {@linkcode im2col}; `dx` must hold the starting
 * values (zeros for a gradient).
 */
export function col2im(
  col: Float32Array,
  g: ConvGeometry,
  first: number,
  count: number,
  dx: Float32Array,
): void {
  if (g.inC < PLANES_BELOW) col2imPlanes(col, g, first, count, dx);
  else col2imRows(col, g, first, count, dx);
}

function col2imRows(
  col: Float32Array,
  g: ConvGeometry,
  first: number,
  count: number,
  dx: Float32Array,
): void {
  const { inH, inW, inC, kH, kW, dilationH, dilationW } = g;
  const run = kW * inC;
  const imageSize = inH * inW * inC;
  let src = 0;
  for (let n = first; n < first + count; n++) {
    const image = n * imageSize;
    for (let oh = 0; oh < g.outH; oh++) {
      const ih0 = oh * g.strideH - g.padTop;
      for (let ow = 0; ow < g.outW; ow++) {
        const iw0 = ow * g.strideW - g.padLeft;
        const inside = dilationW === 1 && iw0 >= 0 && iw0 + kW <= inW;
        for (let kh = 0; kh < kH; kh++, src += run) {
          const ih = ih0 + kh * dilationH;
          if (ih < 0 || ih >= inH) continue;
          const row = image + ih * inW * inC;
          if (inside) {
            const to = row + iw0 * inC;
            for (let i = 0; i < run; i++) dx[to + i] += col[src + i];
            continue;
          }
          for (let kw = 0, s = src; kw < kW; kw++, s += inC) {
            const iw = iw0 + kw * dilationW;
            if (iw < 0 || iw >= inW) continue;
            const to = row + iw * inC;
            for (let c = 0; c < inC; c++) dx[to + c] += col[s + c];
          }
        }
      }
    }
  }
}

function col2imPlanes(
  col: Float32Array,
  g: ConvGeometry,
  first: number,
  count: number,
  dx: Float32Array,
): void {
  const { inH, inW, inC, outH, outW, kH, kW } = g;
  const p = patchSize(g);
  const sW = g.strideW * inC;
  for (let n = first; n < first + count; n++) {
    const image = n * inH * inW * inC;
    for (let oh = 0; oh < outH; oh++) {
      const rows = ((n - first) * outH + oh) * outW * p;
      for (let kh = 0; kh < kH; kh++) {
        const ih = oh * g.strideH - g.padTop + kh * g.dilationH;
        if (ih < 0 || ih >= inH) continue;
        for (let kw = 0; kw < kW; kw++) {
          const offset = (kw * g.dilationW - g.padLeft) * inC;
          const [lo, hi] = validRange(g, kw);
          let to = image + ih * inW * inC + offset + lo * sW;
          let src = rows + (kh * kW + kw) * inC + lo * p;
          if (inC === 1) {
            for (let ow = lo; ow < hi; ow++, to += sW, src += p) {
              dx[to] += col[src];
            }
            continue;
          }
          for (let ow = lo; ow < hi; ow++, to += sW, src += p) {
            for (let c = 0; c < inC; c++) dx[to + c] += col[src + c];
          }
        }
      }
    }
  }
}
