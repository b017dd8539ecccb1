import assert from "node:assert/strict";
import { tf, tfl } from "./tf.ts";
import { useBackend } from "./backend.ts";
import {
  crossEntropy,
  dotAll,
  forward,
  hessianVectorProduct,
  logSoftmax,
  squaredNorm,
  trainableParams,
  valueAndGrads,
} from "./functional.ts";

await useBackend("cpu");

const close = (a: number, b: number, tol = 1e-5) =>
  Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

Deno.test("logSoftmax() matches log(softmax) and is shift-invariant", async () => {
  const z = tf.tensor2d([[1, 2, 3], [1000, 1001, 999]]);
  const got = await logSoftmax(z).data();
  const rows = [[1, 2, 3], [1, 2, 0]];
  const want = rows.flatMap((r) => {
    const lse = Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
    return r.map((v) => v - lse);
  });
  want.forEach((w, i) => assert.ok(close(got[i], w), `${got[i]} vs ${w}`));
});

Deno.test("crossEntropy() gives -log p(y | x) with each reduction", async () => {
  const z = tf.tensor2d([[0, 0, 0, 0], [2, 0, 0, 0]]);
  const y = tf.tensor1d([0, 0], "int32");
  const p1 = Math.exp(2) / (Math.exp(2) + 3);
  const each = [Math.log(4), -Math.log(p1)];
  const none = await crossEntropy(z, y, { reduction: "none" }).data();
  each.forEach((e, i) => assert.ok(close(none[i], e)));
  const sum = (await crossEntropy(z, y, { reduction: "sum" }).data())[0];
  assert.ok(close(sum, each[0] + each[1]));
  const mean = (await crossEntropy(z, y).data())[0];
  assert.ok(close(mean, (each[0] + each[1]) / 2));
});

Deno.test("crossEntropy() has gradient (softmax - onehot) / batch", async () => {
  const z = tf.tensor2d([[0.5, -1, 2], [0, 0, 1]]);
  const y = tf.tensor1d([2, 0], "int32");
  const g = await tf.grad((t: tf.Tensor) => crossEntropy(t, y))(z).data();
  const p = await tf.softmax(z).data();
  const want = Array.from(p).map((v, i) =>
    (v - (i === 2 || i === 3 ? 1 : 0)) / 2
  );
  want.forEach((w, i) => assert.ok(close(g[i], w), `${g[i]} vs ${w}`));
});

Deno.test("valueAndGrads() and hessianVectorProduct() are exact on a quadratic", async () => {
  // f(w) = 1/2 w^T A w + b^T w with symmetric A: grad = A w + b, H v = A v.
  const a = [[2, 1, 0], [1, 3, -1], [0, -1, 4]];
  const b = [1, -2, 0.5];
  const w0 = [0.3, -0.2, 0.7];
  const v0 = [1, 0.5, -1];
  const w = tf.variable(tf.tensor1d(w0));
  const u = tf.variable(tf.tensor1d([2]));
  const at = tf.tensor2d(a);
  const f = () =>
    tf.add(
      tf.mul(
        0.5,
        tf.sum(tf.mul(w, tf.squeeze(tf.matMul(at, tf.reshape(w, [3, 1]))))),
      ),
      tf.add(tf.sum(tf.mul(tf.tensor1d(b), w)), tf.square(tf.sum(u))),
    ) as tf.Scalar;
  const { value, grads } = valueAndGrads(f, [w, u]);
  const aw = a.map((r) => r.reduce((s, x, j) => s + x * w0[j], 0));
  const f0 = 0.5 * aw.reduce((s, x, i) => s + x * w0[i], 0) +
    b.reduce((s, x, i) => s + x * w0[i], 0) + 4;
  assert.ok(close((await value.data())[0], f0));
  const g = await grads[0].data();
  aw.forEach((x, i) => assert.ok(close(g[i], x + b[i])));
  assert.ok(close((await grads[1].data())[0], 4));
  const hv = hessianVectorProduct(f, [w, u], [
    tf.tensor1d(v0),
    tf.tensor1d([3]),
  ]);
  const av = a.map((r) => r.reduce((s, x, j) => s + x * v0[j], 0));
  const got = await hv[0].data();
  av.forEach((x, i) => assert.ok(close(got[i], x), `${got[i]} vs ${x}`));
  assert.ok(close((await hv[1].data())[0], 6));
  tf.dispose([w, u, at]);
});

Deno.test("squaredNorm() and dotAll() sum over every tensor", async () => {
  const a = [tf.tensor1d([1, 2]), tf.tensor2d([[3], [4]])];
  const b = [tf.tensor1d([-1, 1]), tf.tensor2d([[0.5], [2]])];
  assert.equal((await squaredNorm(a).data())[0], 30);
  assert.equal((await dotAll(a, b).data())[0], 1 + 1.5 + 8);
});

Deno.test("trainableParams() filters batch-norm weights and rejects empty picks", () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [3], units: 2 }),
      tfl.layers.batchNormalization({}),
    ],
  });
  assert.equal(trainableParams(model).length, 4);
  assert.equal(trainableParams(model, "no-batchnorm").length, 2);
  assert.throws(
    () => trainableParams(model, () => false),
    (e: Error) =>
      e instanceof RangeError && /Cannot select parameters/.test(e.message),
  );
  const x = tf.ones([4, 3]);
  // Training mode normalizes with batch statistics: each column has mean 0.
  const out = forward(model, tf.concat([x, tf.zeros([4, 3])]), true);
  const colMean = tf.mean(out, 0);
  assert.ok(Math.max(...Array.from(colMean.dataSync()).map(Math.abs)) < 1e-4);
  model.dispose();
});
