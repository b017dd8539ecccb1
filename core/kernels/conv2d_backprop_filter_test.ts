import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import "./mod.ts";
import { normals, onBackend, relErr } from "./_test_util.ts";
import { withStockKernels } from "./_registry.ts";

type Pad = "valid" | "same" | number | [
  [number, number],
  [number, number],
  [number, number],
  [number, number],
];

interface Case {
  x: [number, number, number, number];
  f: [number, number];
  cOut: number;
  strides: [number, number];
  pad: Pad;
  round?: "floor" | "round" | "ceil";
}

const CASES: Case[] = [];
for (const strides of [[1, 1], [2, 2], [2, 3]] as [number, number][]) {
  for (const pad of ["valid", "same", 1] as Pad[]) {
    for (
      const [x, f] of [
        [[2, 7, 8, 3], [3, 3]],
        [[3, 6, 5, 1], [2, 3]],
        [[1, 9, 9, 2], [1, 1]],
        [[2, 5, 5, 4], [5, 5]],
      ] as [Case["x"], Case["f"]][]
    ) {
      CASES.push({ x, f, cOut: 3, strides, pad });
    }
  }
}
CASES.push({
  x: [2, 8, 7, 2],
  f: [3, 2],
  cOut: 2,
  strides: [2, 2],
  pad: [[0, 0], [2, 0], [1, 3], [0, 0]],
});
CASES.push({
  x: [2, 8, 8, 2],
  f: [3, 3],
  cOut: 2,
  strides: [3, 3],
  pad: 2,
  round: "ceil",
});

function backpropFilter(
  x: tf.Tensor,
  dy: tf.Tensor,
  c: Case,
  fShape: number[],
) {
  return tf.engine().runKernel("Conv2DBackpropFilter", { x, dy }, {
    strides: c.strides,
    pad: c.pad,
    dataFormat: "NHWC",
    dimRoundingMode: c.round,
    filterShape: fShape,
  } as unknown as tf.NamedAttrMap) as tf.Tensor;
}

async function onBoth(c: Case, seed: number) {
  const fShape = [...c.f, c.x[3], c.cOut];
  const outShape = tf.backend_util.computeConv2DInfo(
    c.x,
    fShape as [number, number, number, number],
    c.strides,
    1,
    c.pad,
    c.round,
  ).outShape;
  const xs = normals(c.x.reduce((a, b) => a * b), seed);
  const dys = normals(outShape.reduce((a, b) => a * b), seed + 1);
  const run = () =>
    tf.tidy(() =>
      backpropFilter(tf.tensor(xs, c.x), tf.tensor(dys, outShape), c, fShape)
    ).data();
  const stock = await onBackend(
    "cpu",
    () => withStockKernels("cpu", ["Conv2DBackpropFilter"], run),
  );
  const cpu = await onBackend("cpu", run);
  const wasm = await onBackend("wasm", run);
  return { stock, cpu, wasm };
}

Deno.test("Conv2DBackpropFilter on wasm and cpu matches tfjs's cpu kernel over strides, pads and shapes", async () => {
  let worst = 0;
  let at = "";
  for (const [i, c] of CASES.entries()) {
    const { stock, cpu, wasm } = await onBoth(c, 100 + i);
    for (const [name, got] of [["cpu", cpu], ["wasm", wasm]] as const) {
      const err = relErr(stock, got);
      if (err > worst) [worst, at] = [err, `${name} ${JSON.stringify(c)}`];
    }
  }
  assert.ok(worst < 1e-5, `largest relative error ${worst} at ${at}`);
});

/** dW by its definition, with filter dilation, for the dilated cases. */
function naiveFilterGrad(
  x: Float32Array,
  xShape: number[],
  dy: Float32Array,
  dyShape: number[],
  fShape: number[],
  s: number[],
  d: number[],
  top: number,
  left: number,
): Float32Array {
  const [n, h, w, ci] = xShape;
  const [, ho, wo, co] = dyShape;
  const [fh, fw] = fShape;
  const out = new Float32Array(fh * fw * ci * co);
  for (let a = 0; a < fh; a++) {
    for (let b = 0; b < fw; b++) {
      for (let k = 0; k < n; k++) {
        for (let i = 0; i < ho; i++) {
          const r = i * s[0] + a * d[0] - top;
          if (r < 0 || r >= h) continue;
          for (let j = 0; j < wo; j++) {
            const q = j * s[1] + b * d[1] - left;
            if (q < 0 || q >= w) continue;
            for (let c = 0; c < ci; c++) {
              const xv = x[((k * h + r) * w + q) * ci + c];
              for (let o = 0; o < co; o++) {
                out[((a * fw + b) * ci + c) * co + o] += xv *
                  dy[((k * ho + i) * wo + j) * co + o];
              }
            }
          }
        }
      }
    }
  }
  return out;
}

Deno.test("wasm Conv2DBackpropFilter handles filter dilations", async () => {
  let worst = 0;
  for (
    const [strides, dilations, pad] of [
      [[1, 1], [2, 2], "valid"],
      [[1, 1], [2, 3], "same"],
      [[2, 2], [2, 2], "same"],
      [[1, 2], [3, 1], 1],
    ] as [number[], number[], Pad][]
  ) {
    const xShape = [2, 9, 10, 2];
    const fShape = [3, 2, 2, 3];
    const info = tf.backend_util.computeConv2DInfo(
      xShape as [number, number, number, number],
      fShape as [number, number, number, number],
      strides as [number, number],
      dilations as [number, number],
      pad,
    );
    const xs = normals(360, 7);
    const dys = normals(info.outShape.reduce((a, b) => a * b), 8);
    const want = naiveFilterGrad(
      xs,
      xShape,
      dys,
      info.outShape,
      fShape,
      strides,
      dilations,
      info.padInfo.top,
      info.padInfo.left,
    );
    const got = await onBackend(
      "wasm",
      () =>
        tf.tidy(() =>
          tf.engine().runKernel("Conv2DBackpropFilter", {
            x: tf.tensor(xs, xShape),
            dy: tf.tensor(dys, info.outShape),
          }, {
            strides,
            pad,
            dilations,
            dataFormat: "NHWC",
            filterShape: fShape,
          } as unknown as tf.NamedAttrMap) as tf.Tensor
        ).data(),
    );
    worst = Math.max(worst, relErr(want, got));
  }
  assert.ok(worst < 1e-5, `largest relative error ${worst}`);
});

Deno.test("wasm Conv2DBackpropFilter frees its intermediates", async () => {
  await onBackend("wasm", async () => {
    const x = tf.ones([2, 6, 6, 3]);
    const dy = tf.ones([2, 3, 3, 4]);
    const run = () =>
      backpropFilter(x, dy, {
        x: [2, 6, 6, 3],
        f: [3, 3],
        cOut: 4,
        strides: [2, 2],
        pad: "same",
      }, [3, 3, 3, 4]);
    run().dispose();
    const before = tf.engine().backend.numDataIds();
    const out = run();
    await out.data();
    out.dispose();
    assert.equal(tf.engine().backend.numDataIds(), before);
    tf.dispose([x, dy]);
  });
});
