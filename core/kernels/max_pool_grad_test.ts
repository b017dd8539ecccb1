import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import "./mod.ts";
import { onBackend } from "./_test_util.ts";
import { type PadArg, type PoolAttrs, poolInfo } from "./_pool_geometry.ts";
import { composedPick, PICK_AT_ARGMAX, pickAtArgmax } from "./gradients.ts";

/** The rule, spelled out: each dy goes to its window's first maximum. */
function reference(
  x: Float32Array,
  dy: Float32Array,
  shape: number[],
  attrs: PoolAttrs,
): Float32Array {
  const dx = new Float32Array(x.length);
  firstMaxima(x, shape, attrs).forEach((at, o) => {
    if (at >= 0) dx[at] += dy[o];
  });
  return dx;
}

/** Each window's first maximum of x, by a plain scan; -1 if none. */
function firstMaxima(
  x: Float32Array,
  shape: number[],
  attrs: PoolAttrs,
): number[] {
  const info = poolInfo(shape, attrs);
  const [n, h, w, c] = shape;
  const found: number[] = [];
  for (let b = 0; b < n; b++) {
    for (let i = 0; i < info.outHeight; i++) {
      for (let j = 0; j < info.outWidth; j++) {
        for (let d = 0; d < c; d++) {
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
          found.push(at);
        }
      }
    }
  }
  return found;
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

/** PickAtArgmax reads u at each window's first maximum of x (0 if none). */
async function checkPickOn(backend: "cpu" | "wasm") {
  for (const shape of SHAPES) {
    for (const [filterSize, strides, pad] of POOLS) {
      for (const special of [false, true]) {
        const attrs: PoolAttrs = { filterSize, strides, pad };
        const size = shape.reduce((a, b) => a * b, 1);
        const x = values(size, special);
        const u = values(size, special);
        const label = `${backend} ${shape} ${filterSize} ${strides} ` +
          `${JSON.stringify(pad)} ${special}`;
        const picked = await onBackend(
          backend,
          () =>
            tf.tidy(() =>
              pickAtArgmax(tf.tensor(x, shape), tf.tensor(u, shape), attrs)
                .dataSync() as Float32Array
            ),
        );
        const expected = Float32Array.from(
          firstMaxima(x, shape, attrs).map((at) => at >= 0 ? u[at] : 0),
        );
        assertSame(picked, expected, label);
      }
    }
  }
}

Deno.test("the PickAtArgmax kernel reads u at each window's first maximum on cpu", async () => {
  await onBackend("cpu", () => {
    assert.ok(tf.getKernel(PICK_AT_ARGMAX, "cpu"), "no cpu kernel");
  });
  await checkPickOn("cpu");
});

Deno.test("the PickAtArgmax kernel reads u at each window's first maximum on wasm", async () => {
  await onBackend("wasm", () => {
    assert.ok(tf.getKernel(PICK_AT_ARGMAX, "wasm"), "no wasm kernel");
  });
  await checkPickOn("wasm");
});

Deno.test("the composed pick (other backends) agrees with the kernel on finite inputs", async () => {
  await onBackend("cpu", () => {
    for (const shape of SHAPES) {
      for (const [filterSize, strides, pad] of POOLS) {
        const attrs: PoolAttrs = { filterSize, strides, pad };
        const size = shape.reduce((a, b) => a * b, 1);
        const [kernel, composed] = tf.tidy(() => {
          const x = tf.tensor(values(size, false), shape);
          const u = tf.tensor(values(size, false), shape);
          return [pickAtArgmax(x, u, attrs), composedPick(x, u, attrs)]
            .map((t) => t.dataSync() as Float32Array);
        });
        assertSame(composed, kernel, `${shape} ${filterSize} ${strides}`);
      }
    }
  });
});

Deno.test("PickAtArgmax's gradient is MaxPoolGrad: <pick(u), v> = <u, route(v)>", async () => {
  for (const backend of ["cpu", "wasm"] as const) {
    await onBackend(backend, () => {
      const shape = [2, 6, 8, 3];
      const attrs: PoolAttrs = { filterSize: 3, strides: 2, pad: "same" };
      const size = shape.reduce((a, b) => a * b, 1);
      const x = tf.tensor(values(size, false), shape);
      const u = tf.tensor(values(size, false), shape);
      const pooled = pickAtArgmax(x, u, attrs);
      const v = tf.tensor(values(pooled.size, false), pooled.shape);
      const du = tf.grad((t: tf.Tensor) =>
        tf.sum(tf.mul(pickAtArgmax(x, t, attrs), v))
      )(u);
      const routed = reference(
        x.dataSync() as Float32Array,
        v.dataSync() as Float32Array,
        shape,
        attrs,
      );
      assertSame(du.dataSync() as Float32Array, routed, backend);
      tf.dispose([x, u, pooled, v, du]);
    });
  }
});
