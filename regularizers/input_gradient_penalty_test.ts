import assert from "node:assert/strict";
import { tf } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { crossEntropy, forward } from "../core/functional.ts";
import { inputGradientPenalty } from "./input_gradient_penalty.ts";
import {
  directionalError,
  lastMetric,
  makeBatch,
  makeContext,
  termAndGrad,
  termValue,
  tinyMlp,
} from "./_testing.ts";

await useBackend("cpu");

Deno.test("inputGradientPenalty() gradient matches central differences", () => {
  const model = tinyMlp();
  const batch = makeBatch(12, [5], 4);
  const ctx = makeContext(model, batch);
  const make = () => inputGradientPenalty({ alpha: 2, subBatch: 6, every: 1 });
  const before = tf.memory().numTensors;
  const { value, grads } = termAndGrad(make, ctx);
  assert.equal(tf.memory().numTensors, before);
  assert.ok(value > 0);
  const error = directionalError(() => termValue(make, ctx), grads, ctx.params);
  assert.ok(error < 1e-2, `relative error ${error}`);
  tf.dispose([batch.x, batch.y, ...ctx.params]);
});

Deno.test("inputGradientPenalty() is the mean per-example input gradient norm", () => {
  const model = tinyMlp();
  const batch = makeBatch(6, [5], 4);
  const ctx = makeContext(model, batch);
  const value = termValue(
    () => inputGradientPenalty({ alpha: 0.5, every: 1 }),
    ctx,
  );

  // Each example on its own: ||d l_i / d x_i||^2, then the mean.
  let sum = 0;
  for (let i = 0; i < 6; i++) {
    sum += tf.tidy(() => {
      const xi = tf.slice(batch.x, i, 1);
      const yi = tf.slice(batch.y, i, 1);
      const grad = tf.grad((x: tf.Tensor) =>
        crossEntropy(forward(model, x, true), yi)
      )(xi);
      return tf.sum(tf.square(grad)).dataSync()[0];
    });
  }
  const expected = 0.5 * sum / 6;
  assert.ok(Math.abs(value - expected) < 1e-5 * expected, `${value}`);
  assert.equal(lastMetric(ctx, "reg/input_gradient_penalty"), value);
  tf.dispose([batch.x, batch.y, ...ctx.params]);
});

Deno.test("inputGradientPenalty() every and subBatch do what they say", () => {
  const model = tinyMlp();
  const batch = makeBatch(9, [5], 4);
  const ctx = makeContext(model, batch);
  const plugin = inputGradientPenalty({ alpha: 1, every: 3, subBatch: 4 });
  const steps: number[] = [];
  for (let step = 0; step < 7; step++) {
    ctx.counters.step = step;
    tf.tidy(() => {
      if (plugin.loss!(ctx, tf.scalar(0)) !== undefined) steps.push(step);
    });
  }
  assert.deepEqual(steps, [0, 3, 6]);
  assert.equal(plugin.stats.gradientEvaluations, 3);
  assert.equal(plugin.stats.lastSubBatch, 4);
  tf.dispose([batch.x, batch.y, ...ctx.params]);
});
