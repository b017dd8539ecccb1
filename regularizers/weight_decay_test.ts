import assert from "node:assert/strict";
import { tf, tfl } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { valueAndGrads } from "../core/functional.ts";
import { weightDecay } from "./weight_decay.ts";
import { lastMetric, makeBatch, makeContext, tinyMlp } from "./_testing.ts";

await useBackend("cpu");

function sumOfSquares(params: tf.Variable[]): number {
  return params.reduce(
    (s, p) => s + Array.from(p.dataSync()).reduce((t, v) => t + v * v, 0),
    0,
  );
}

Deno.test('weightDecay() "l2" adds lambda/2 ||theta||^2, gradient lambda theta', () => {
  const model = tinyMlp();
  const batch = makeBatch(4, [5], 4);
  const ctx = makeContext(model, batch);
  const plugin = weightDecay({ coefficient: 0.3 });
  const { value, grads } = valueAndGrads(
    () => plugin.loss!(ctx, tf.scalar(1)) as tf.Scalar,
    ctx.params,
  );
  const expected = 1 + 0.15 * sumOfSquares(ctx.params);
  assert.ok(Math.abs(value.dataSync()[0] - expected) < 1e-5 * expected);
  assert.ok(
    Math.abs(lastMetric(ctx, "reg/weight_decay") - (expected - 1)) < 1e-4,
  );
  grads.forEach((g, i) => {
    const theta = ctx.params[i].dataSync();
    g.dataSync().forEach((v, j) =>
      assert.ok(Math.abs(v - 0.3 * theta[j]) < 1e-6)
    );
  });
  tf.dispose([value, ...grads, batch.x, batch.y, ...ctx.params]);
});

Deno.test('weightDecay() "decoupled" scales weights by 1 - lr lambda', () => {
  const model = tinyMlp();
  const batch = makeBatch(4, [5], 4);
  const ctx = makeContext(model, batch, 5, 0.2);
  const plugin = weightDecay({ coefficient: 0.5, mode: "decoupled" });
  const before = ctx.params.map((p) => p.dataSync().slice());
  assert.equal(plugin.loss!(ctx, tf.scalar(1)), undefined);
  const tensors = tf.memory().numTensors;
  const grads = ctx.params.map((p) => tf.onesLike(p));
  assert.equal(plugin.beforeOptimizerStep!(ctx, grads), undefined);
  tf.dispose(grads);
  assert.equal(tf.memory().numTensors, tensors);
  ctx.params.forEach((p, i) =>
    p.dataSync().forEach((v, j) =>
      assert.ok(Math.abs(v - 0.9 * before[i][j]) < 1e-7)
    )
  );
  tf.dispose([batch.x, batch.y, ...ctx.params]);
});

Deno.test('weightDecay() params "no-batchnorm" leaves batch norm alone', () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 3, inputShape: [2] }),
      tfl.layers.batchNormalization(),
    ],
  });
  const batch = makeBatch(4, [2], 3);
  const ctx = makeContext(model, batch, 5, 1);
  const plugin = weightDecay({
    coefficient: 0.5,
    mode: "decoupled",
    params: "no-batchnorm",
  });
  const before = ctx.params.map((p) => p.dataSync().slice());
  const grads = ctx.params.map((p) => tf.zerosLike(p));
  plugin.beforeOptimizerStep!(ctx, grads);
  tf.dispose(grads);
  model.trainableWeights.forEach((w, i) => {
    const factor = /batch_?norm/i.test(w.originalName) ? 1 : 0.5;
    ctx.params[i].dataSync().forEach((v, j) =>
      assert.ok(Math.abs(v - factor * before[i][j]) < 1e-7, w.originalName)
    );
  });
  tf.dispose([batch.x, batch.y, ...ctx.params]);
});

Deno.test("weightDecay() checks its options", () => {
  assert.throws(() => weightDecay({ coefficient: Number.NaN }), RangeError);
  assert.throws(
    () => weightDecay({ coefficient: 1, mode: "l1" as "l2" }),
    /mode is "l1"/,
  );
});
