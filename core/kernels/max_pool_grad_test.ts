import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import "./mod.ts";
import { onBackend } from "./_test_util.ts";
import { type PadArg, type PoolAttrs, poolInfo } from "./_pool_geometry.ts";

/** The rule, spelled out: each dy goes to its window's first maximum. */
function reference(
  x: Float32Array,
  dy: Float32Array,
  shape: number[],
  attrs: PoolAttrs,
): Float32Array {
  const info = poolInfo(shape, attrs);
  const [n, h, w, c] = shape;
  const dx = new Float32Array(x.length);
  let o = 0;
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < info.outHeight; i++) {
      for (let j = 0; j < info.outWidth; j++) {
        for (let d = 0; d < c; d++, o++) {
          let best = -Infinity;
          let at = -1;
          for (let r = 0; r < info.filterHeight; r++) {
            for (let q = 0; q < info.filterWidth; q++) {
              const row = i * info.strideHeight - info.padInfo.top + r;
              const col = j * info.strideWidth - info.padInfo.left + q;
              if (row < 0 || row >= h || col < 0 || col >= w) continue;
              const k = ((b * h + row) * w + col) * c + d;
              if (x[k] > best) [best, at] = [x[k], k];
            }
          }
          if (at >= 0) dx[at] += dy[o];
        }
      }
    }
  }
  return dx;
}

let seed = 7;
/** Seeded values in -2..2 rounded to halves: many ties. */
function values(length: number, special: boolean): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    out[i] = Math.round((seed / 2147483648 - 0.5) * 8) / 2;
  }
  if (special) {
    // NaN, -Infinity and signed zeros, which the first-maximum rule must
    // treat as the plain scan does.
    const specials = [NaN, -Infinity, -0, Infinity, NaN, -Infinity];
    for (let i = 0; i < length; i += 5) out[i] = specials[i % 6];
  }
  return out;
}

function assertSame(
  actual: Float32Array,
  expected: Float32Array,
  label: string,
) {
  assert.equal(actual.length, expected.length, label);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      assert.fail(
        `${label}: dx[${i}] is ${actual[i]}, expected ${expected[i]}`,
      );
    }
  }
}

const POOLS: [number | [number, number], number | [number, number], PadArg][] =
  [
    [2, 2, "valid"],
    [2, 2, "same"],
    [[2, 3], [2, 1], "valid"],
    [2, 1, "same"],
    [3, 2, "same"],
    [3, 1, "valid"],
    [3, 3, 1],
    [1, 2, "valid"],
    [4, 3, [[0, 0], [2, 1], [0, 3], [0, 0]]],
  ];
const SHAPES = [[2, 6, 8, 3], [1, 7, 5, 1], [2, 4, 4, 17]];

async function checkOn(backend: "cpu" | "wasm", native: "on" | "off") {
  for (const shape of SHAPES) {
    for (const [filterSize, strides, pad] of POOLS) {
      for (const special of [false, true]) {
        const attrs: PoolAttrs = { filterSize, strides, pad };
        const info = poolInfo(shape, attrs);
        const outShape = [shape[0], info.outHeight, info.outWidth, shape[3]];
        const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
        const x = values(size(shape), special);
        const dy = values(size(outShape), special).map((v) => v || -0);
        const label = `${backend} ${native} ${shape} ${filterSize} ` +
          `${strides} ${JSON.stringify(pad)} ${special}`;
        const dx = await onBackend(backend, () =>
          tf.tidy(() => {
            const xt = tf.tensor(x, shape);
            const out = tf.engine().runKernel("MaxPoolGrad", {
              dy: tf.tensor(dy, outShape),
              input: xt,
              output: tf.maxPool(xt as tf.Tensor4D, filterSize, strides, pad),
            }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
            return out.dataSync() as Float32Array;
          }), native);
        assertSame(dx, reference(x, dy, shape, attrs), label);
      }
    }
  }
}

Deno.test("maxPoolGrad() routes dy to each window's first maximum on cpu", async () => {
  await checkOn("cpu", "off");
});

Deno.test("maxPoolGrad() routes dy to each window's first maximum on wasm", async () => {
  await checkOn("wasm", "off");
});
