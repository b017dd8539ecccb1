import assert from "node:assert/strict";
import { tf } from "./tf.ts";
import { fixTapeOrder } from "./tape_order.ts";
import {
  crossEntropy,
  hessianVectorProduct,
  valueAndGrads,
} from "./functional.ts";
import { useBackend } from "./backend.ts";
import { Random } from "./random.ts";

// These Hessians are known in closed form, so each HVP is checked against
// exact float64 values; without the tape fix tfjs drops the terms that come
// from the saved outputs of Tanh, Softmax, Sigmoid and Exp and the checks
// fail by tens of percent.

const rng = new Random(3);
const A = [...Array(4)].map(() => [...Array(3)].map(() => rng.normal()));
const W0 = [0.3, -0.7, 0.5];
const V = [0.9, 0.2, -0.4];

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return Math.sqrt(d / n);
}

/** A w, in float64. */
const times = (w: number[]) =>
  A.map((row) => row.reduce((s, a, j) => s + a * w[j], 0));

/** H v for f(w) = sum_i phi(z_i), z = A w: A^T diag(phi''(z)) A v. */
function exactHv(second: (z: number) => number): number[] {
  const z = times(W0);
  const av = times(V);
  return W0.map((_, j) =>
    A.reduce((s, row, i) => s + row[j] * second(z[i]) * av[i], 0)
  );
}

async function hvpOf(phi: (z: tf.Tensor) => tf.Tensor): Promise<number[]> {
  const w = tf.variable(tf.tensor1d(W0));
  const a = tf.tensor2d(A);
  const f = () => tf.sum(phi(tf.squeeze(tf.matMul(a, tf.reshape(w, [3, 1])))));
  const [hv] = hessianVectorProduct(f as () => tf.Scalar, [w], [
    tf.tensor1d(V),
  ]);
  const out = Array.from(await hv.data());
  tf.dispose([w, a, hv]);
  return out;
}

const cases: [string, (z: tf.Tensor) => tf.Tensor, (z: number) => number][] = [
  ["tanh", tf.tanh, (z) => -2 * Math.tanh(z) * (1 - Math.tanh(z) ** 2)],
  ["exp", tf.exp, Math.exp],
  ["sigmoid", tf.sigmoid, (z) => {
    const s = 1 / (1 + Math.exp(-z));
    return s * (1 - s) * (1 - 2 * s);
  }],
];

for (const backend of ["cpu", "wasm"] as const) {
  for (const [name, phi, second] of cases) {
    Deno.test(`fixTapeOrder() makes HVPs through ${name} exact on ${backend}`, async () => {
      await useBackend(backend);
      const err = relErr(await hvpOf(phi), exactHv(second));
      assert.ok(err < 1e-5, `relative error ${err} vs the exact H v`);
    });
  }

  Deno.test(`fixTapeOrder() makes HVPs through softmax cross-entropy exact on ${backend}`, async () => {
    await useBackend(backend);
    // Logits z_b = x_b W for a [2, 3] batch x and W [3, 4]; with p_b the
    // softmax of z_b, H v = mean_b x_b^T (diag(p_b) - p_b p_b^T) (x_b V).
    const x = [[0.5, -1, 0.3], [1.2, 0.4, -0.8]];
    const w0 = [...Array(12)].map((_, i) => Math.sin(i + 1));
    const v0 = [...Array(12)].map((_, i) => Math.cos(2 * i));
    const labels = [1, 3];
    const exact = new Array(12).fill(0);
    for (const xb of x) {
      const z = [0, 1, 2, 3].map((c) =>
        xb.reduce((s, xi, i) => s + xi * w0[i * 4 + c], 0)
      );
      const m = Math.max(...z);
      const e = z.map((zi) => Math.exp(zi - m));
      const p = e.map((ei) => ei / e.reduce((s, q) => s + q, 0));
      const u = [0, 1, 2, 3].map((c) =>
        xb.reduce((s, xi, i) => s + xi * v0[i * 4 + c], 0)
      );
      const pu = p.reduce((s, pi, c) => s + pi * u[c], 0);
      const hz = p.map((pi, c) => pi * u[c] - pi * pu);
      xb.forEach((xi, i) =>
        hz.forEach((h, c) => exact[i * 4 + c] += (xi * h) / x.length)
      );
    }
    const w = tf.variable(tf.tensor2d(w0, [3, 4]));
    const xs = tf.tensor2d(x);
    const y = tf.tensor1d(labels, "int32");
    // crossEntropy (exp and log) and -log(softmax) (the Softmax kernel);
    // tfjs's own softmaxCrossEntropy has no second derivative at all.
    for (const loss of ["crossEntropy", "softmax"]) {
      const f = loss === "crossEntropy"
        ? () => crossEntropy(tf.matMul(xs, w), y) as tf.Scalar
        : () =>
          tf.neg(tf.mean(tf.sum(
            tf.mul(tf.oneHot(y, 4), tf.log(tf.softmax(tf.matMul(xs, w)))),
            -1,
          ))) as tf.Scalar;
      const [hv] = hessianVectorProduct(f, [w], [tf.tensor2d(v0, [3, 4])]);
      const err = relErr(await hv.data(), exact);
      assert.ok(err < 1e-5, `${loss} loss: relative error ${err}`);
    }
    tf.dispose([w, xs, y]);
  });
}

Deno.test("fixTapeOrder() can be called again without effect", async () => {
  await useBackend("cpu");
  fixTapeOrder();
  fixTapeOrder();
  const w = tf.variable(tf.tensor1d([0.4]));
  const { grads } = valueAndGrads(() => {
    const inner = valueAndGrads(() => tf.sum(tf.tanh(w)) as tf.Scalar, [w]);
    return tf.sum(inner.grads[0]) as tf.Scalar;
  }, [w]);
  const t = Math.tanh(0.4);
  assert.ok(Math.abs((await grads[0].data())[0] + 2 * t * (1 - t * t)) < 1e-6);
  w.dispose();
});
