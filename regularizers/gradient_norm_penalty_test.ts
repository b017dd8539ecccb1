import assert from "node:assert/strict";
import { tf, tfl } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import {
  crossEntropy,
  forward,
  squaredNorm,
  trainableParams,
  valueAndGrads,
} from "../core/functional.ts";
import { Random } from "../core/random.ts";
import { gradientNormPenalty } from "./gradient_norm_penalty.ts";
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

/** alpha ||grad_theta mean CE(x, labels)||^2, computed directly. */
function direct(
  ctx: ReturnType<typeof makeContext>,
  labels: tf.Tensor,
  alpha: number,
): number {
  return tf.tidy(() => {
    const { grads } = valueAndGrads(
      () =>
        crossEntropy(
          forward(ctx.model, ctx.batch!.x, true),
          labels,
        ) as tf.Scalar,
      ctx.params,
    );
    return squaredNorm(grads).dataSync()[0] * alpha;
  });
}

for (const labels of ["true", "random"] as const) {
  Deno.test(`gradientNormPenalty() labels "${labels}" gradient matches central differences`, () => {
    const model = tinyMlp();
    const batch = makeBatch(12, [5], 4);
    const ctx = makeContext(model, batch);
    const make = () =>
      gradientNormPenalty({ alpha: 0.5, labels, subBatch: 6, every: 1 });
    const before = tf.memory().numTensors;
    const { value, grads } = termAndGrad(make, ctx);
    assert.equal(tf.memory().numTensors, before);
    assert.ok(value > 0);
    const error = directionalError(
      () => termValue(make, ctx),
      grads,
      ctx.params,
    );
    assert.ok(error < 1e-2, `relative error ${error}`);
    tf.dispose([batch.x, batch.y, ...ctx.params]);
  });
}

Deno.test('gradientNormPenalty() labels "true" is GP on the batch gradient', () => {
  const model = tinyMlp();
  const batch = makeBatch(10, [5], 4);
  const ctx = makeContext(model, batch);
  const plugin = gradientNormPenalty({ alpha: 3, every: 1 });
  const value = termValue(() => plugin, ctx);
  const expected = direct(ctx, batch.y, 3);
  assert.ok(Math.abs(value - expected) < 1e-5 * expected, `${value}`);
  assert.equal(lastMetric(ctx, "reg/gradient_norm_penalty"), value);
  tf.dispose([batch.x, batch.y, ...ctx.params]);
});

Deno.test('gradientNormPenalty() labels "random" draws uniform labels from its stream', () => {
  const model = tinyMlp();
  const batch = makeBatch(10, [5], 4);
  const ctx = makeContext(model, batch, 9);
  const plugin = gradientNormPenalty({ alpha: 2, labels: "random", every: 1 });
  const value = termValue(() => plugin, ctx);

  // The same draws, made independently from the same named stream.
  const stream = new Random(9).fork("regularizers/" + plugin.name);
  const drawn = Int32Array.from({ length: 10 }, () => stream.int(4));
  const y = tf.tensor1d(drawn, "int32");
  const expected = direct(ctx, y, 2);
  assert.ok(Math.abs(value - expected) < 1e-5 * expected);
  assert.ok(Math.abs(value - direct(ctx, batch.y, 2)) > 1e-3 * expected);
  tf.dispose([y, batch.x, batch.y, ...ctx.params]);
});

Deno.test("gradientNormPenalty() every and subBatch do what they say", () => {
  const model = tinyMlp();
  const batch = makeBatch(20, [5], 4);
  const ctx = makeContext(model, batch);
  const plugin = gradientNormPenalty({ alpha: 1, every: 4, subBatch: 5 });
  const steps: number[] = [];
  for (let step = 0; step < 10; step++) {
    ctx.counters.step = step;
    tf.tidy(() => {
      if (plugin.loss!(ctx, tf.scalar(0)) !== undefined) steps.push(step);
    });
  }
  assert.deepEqual(steps, [0, 4, 8]);
  assert.equal(plugin.stats.gradientEvaluations, 3);
  assert.equal(plugin.stats.lastSubBatch, 5);
  assert.throws(
    () => gradientNormPenalty({ alpha: 1, labels: "noisy" as "true" }),
    /labels is "noisy"/,
  );
  tf.dispose([batch.x, batch.y, ...ctx.params]);
});

Deno.test('gradientNormPenalty() params "no-batchnorm" penalizes the other weights', () => {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 6, inputShape: [5] }),
      tfl.layers.batchNormalization(),
      tfl.layers.dense({ units: 4 }),
    ],
  });
  const batch = makeBatch(8, [5], 4);
  const ctx = makeContext(model, batch);
  const chosen = trainableParams(model, "no-batchnorm");
  assert.equal(chosen.length, ctx.params.length - 2);
  const value = termValue(
    () => gradientNormPenalty({ alpha: 1, every: 1, params: "no-batchnorm" }),
    ctx,
  );
  const all = termValue(() => gradientNormPenalty({ alpha: 1, every: 1 }), ctx);
  const expected = tf.tidy(() => {
    const { grads } = valueAndGrads(
      () => crossEntropy(forward(model, batch.x, true), batch.y) as tf.Scalar,
      chosen,
    );
    return squaredNorm(grads).dataSync()[0];
  });
  assert.ok(Math.abs(value - expected) < 1e-5 * expected, `${value}`);
  assert.ok(all > value * (1 + 1e-4));
  tf.dispose([batch.x, batch.y, ...ctx.params]);
});
