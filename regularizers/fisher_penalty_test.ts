import assert from "node:assert/strict";
import { tf } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { fisherPenalty } from "./fisher_penalty.ts";
import { mlp } from "../models/mlp.ts";
import {
  directionalError,
  exactTraces,
  lastMetric,
  makeBatch,
  makeContext,
  termAndGrad,
  termValue,
  tinyMlp,
} from "./_testing.ts";

await useBackend("cpu");

Deno.test("fisherPenalty() gradient matches central differences (MLP)", () => {
  const model = tinyMlp();
  const batch = makeBatch(12, [5], 4);
  const ctx = makeContext(model, batch);
  const before = tf.memory().numTensors;
  const make = () => fisherPenalty({ alpha: 0.7, subBatch: 6, every: 1 });

  const { value, grads } = termAndGrad(make, ctx);
  assert.equal(tf.memory().numTensors, before);
  assert.ok(value > 0);

  const error = directionalError(() => termValue(make, ctx), grads, ctx.params);
  assert.ok(error < 1e-2, `relative error ${error}`);
  tf.dispose([batch.x, batch.y, ...ctx.params]);
});

Deno.test("fisherPenalty() term is alpha ||mean g||^2 at the sampled labels", () => {
  const model = tinyMlp();
  const batch = makeBatch(8, [5], 4);
  const ctx = makeContext(model, batch);
  const plugin = fisherPenalty({ alpha: 2, every: 1 });

  const value = tf.tidy(() =>
    (plugin.loss!(ctx, tf.scalar(1.5)) as tf.Scalar).dataSync()[0]
  );
  const term = lastMetric(ctx, "reg/fisher_penalty");
  const trace = lastMetric(ctx, "fisher/penalty_trace");
  assert.ok(Math.abs(value - 1.5 - term) < 1e-5);
  // B' = 8 (the whole batch): trace = B' ||mean g||^2 = 8 term / alpha.
  assert.ok(Math.abs(trace - 4 * term) < 1e-5 * trace);
  assert.equal(plugin.stats.lastSubBatch, 8);
  tf.dispose([batch.x, batch.y, ...ctx.params]);
});

Deno.test("fisherPenalty() trace estimate is unbiased for Tr(F)", () => {
  const model = tinyMlp(3, 4, 3, 7);
  const batch = makeBatch(4, [3], 3, 13);
  const ctx = makeContext(model, batch, 17);
  const plugin = fisherPenalty({ alpha: 1, every: 1 });
  const exact = exactTraces(model, batch.x, ctx.params);
  const expected = exact.reduce((a, b) => a + b, 0) / exact.length;

  const draws = 1500;
  const samples: number[] = [];
  for (let k = 0; k < draws; k++) {
    tf.tidy(() => {
      plugin.loss!(ctx, tf.scalar(0));
    });
    samples.push(lastMetric(ctx, "fisher/penalty_trace"));
    ctx.records.length = 0;
  }
  const mean = samples.reduce((a, b) => a + b, 0) / draws;
  const variance = samples.reduce((a, b) => a + (b - mean) ** 2, 0) /
    (draws - 1);
  const se = Math.sqrt(variance / draws);
  assert.ok(
    Math.abs(mean - expected) < 4 * se,
    `mean ${mean} vs exact ${expected}, se ${se}`,
  );
  // A check that can fail: the estimate is far from a wrong target.
  assert.ok(Math.abs(mean - expected / exact.length) > 4 * se);
  tf.dispose([batch.x, batch.y, ...ctx.params]);
});

Deno.test("fisherPenalty() finite-difference gradient is close to exact", () => {
  const model = tinyMlp();
  const batch = makeBatch(16, [5], 4);
  const ctx = makeContext(model, batch);
  const options = { alpha: 1, subBatch: 8, every: 1 };

  const exact = termAndGrad(() => fisherPenalty(options), ctx).grads;
  const fd = fisherPenalty({ ...options, method: "finite-difference" });
  const before = tf.memory().numTensors;
  const zeros = ctx.params.map((p) => tf.zerosLike(p));
  const out = fd.afterBackward!(ctx, zeros) as tf.Tensor[];
  const approx = out.map((t) => t.dataSync());
  tf.dispose([...zeros, ...out]);
  assert.equal(tf.memory().numTensors, before);

  let diff = 0;
  let norm = 0;
  exact.forEach((g, i) =>
    g.forEach((v, j) => {
      diff += (v - approx[i][j]) ** 2;
      norm += v ** 2;
    })
  );
  const relative = Math.sqrt(diff / norm);
  assert.ok(relative < 5e-3, `relative error ${relative}`);
  assert.equal(fd.stats.gradientEvaluations, 3);
  tf.dispose([batch.x, batch.y, ...ctx.params]);
});

Deno.test("fisherPenalty() leaves the weights as they were", () => {
  const model = tinyMlp();
  const batch = makeBatch(8, [5], 4);
  const ctx = makeContext(model, batch);
  const before = ctx.params.map((p) => p.dataSync().slice());
  const fd = fisherPenalty({ alpha: 1, every: 1, method: "finite-difference" });
  tf.dispose(fd.afterBackward!(ctx, ctx.params.map((p) => tf.zerosLike(p))));
  ctx.params.forEach((p, i) => assert.deepEqual(p.dataSync(), before[i]));
  tf.dispose([batch.x, batch.y, ...ctx.params]);
});

Deno.test("fisherPenalty() every and subBatch do what they say", () => {
  const model = tinyMlp();
  const batch = makeBatch(20, [5], 4);
  for (const method of ["exact", "finite-difference"] as const) {
    const ctx = makeContext(model, batch);
    const plugin = fisherPenalty({ alpha: 1, every: 10, subBatch: 7, method });
    const stepsWithTerm: number[] = [];
    for (let step = 0; step < 25; step++) {
      ctx.counters.step = step;
      tf.tidy(() => {
        const loss = tf.scalar(1);
        const out = plugin.loss!(ctx, loss);
        const grads = ctx.params.map((p) => tf.zerosLike(p));
        const changed = plugin.afterBackward!(ctx, grads);
        if (out !== undefined || changed !== undefined) {
          stepsWithTerm.push(step);
        }
      });
    }
    assert.deepEqual(stepsWithTerm, [0, 10, 20]);
    assert.equal(plugin.stats.penaltySteps, 3);
    assert.equal(plugin.stats.lastSubBatch, 7);
    assert.equal(plugin.stats.lastStep, 20);
    const perStep = method === "exact" ? 1 : 3;
    assert.equal(plugin.stats.gradientEvaluations, 3 * perStep);
    const logged = ctx.records.filter((r) => r.name === "reg/fisher_penalty");
    assert.deepEqual(logged.map((r) => r.step), [0, 10, 20]);
  }
  tf.dispose([
    batch.x,
    batch.y,
    ...model.trainableWeights.map((w) => w.read()),
  ]);
});

Deno.test("fisherPenalty() sub-batch estimate uses B' examples", () => {
  // With B' = 1, trace = ||g||^2 of a single example, so the mean over
  // draws approaches the mean per-example Tr(F) over the batch.
  const model = tinyMlp(3, 4, 3, 7);
  const batch = makeBatch(5, [3], 3, 13);
  const ctx = makeContext(model, batch, 3);
  const plugin = fisherPenalty({ alpha: 1, every: 1, subBatch: 1 });
  const exact = exactTraces(model, batch.x, ctx.params);
  const expected = exact.reduce((a, b) => a + b, 0) / exact.length;
  const samples: number[] = [];
  for (let k = 0; k < 1500; k++) {
    tf.tidy(() => {
      plugin.loss!(ctx, tf.scalar(0));
    });
    samples.push(lastMetric(ctx, "fisher/penalty_trace"));
    ctx.records.length = 0;
  }
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  const sd = Math.sqrt(
    samples.reduce((a, b) => a + (b - mean) ** 2, 0) / (samples.length - 1),
  );
  const se = sd / Math.sqrt(samples.length);
  assert.equal(plugin.stats.lastSubBatch, 1);
  assert.ok(Math.abs(mean - expected) < 4 * se, `${mean} vs ${expected}`);
  tf.dispose([batch.x, batch.y, ...ctx.params]);
});

Deno.test("fisherPenalty() checks its options", () => {
  assert.throws(() => fisherPenalty({ alpha: -1 }), RangeError);
  assert.throws(() => fisherPenalty({ alpha: 1, every: 0 }), RangeError);
  assert.throws(() => fisherPenalty({ alpha: 1, subBatch: 2.5 }), RangeError);
  assert.throws(
    () => fisherPenalty({ alpha: 1, method: "hutchinson" as "exact" }),
    /Cannot make fisherPenalty "fisher_penalty": method is "hutchinson"/,
  );
});

Deno.test("fisherPenalty() state restores its random stream and counters", async () => {
  const model = tinyMlp();
  const batch = makeBatch(20, [5], 4);
  const ctx = makeContext(model, batch);
  const options = { alpha: 1, every: 1, subBatch: 5 };
  const first = fisherPenalty(options);
  for (let k = 0; k < 3; k++) termValue(() => first, ctx);
  const state = structuredClone(await first.getState!());

  const second = fisherPenalty(options);
  await second.setState!(state);
  assert.deepEqual(second.stats, first.stats);
  const a = termValue(() => first, ctx);
  const b = termValue(() => second, ctx);
  assert.equal(a, b);
  // A fresh plugin draws from the start of the stream: another term.
  assert.notEqual(termValue(() => fisherPenalty(options), ctx), a);
  tf.dispose([batch.x, batch.y, ...ctx.params]);
});

Deno.test("fisherPenalty() on a ReLU dense chain: the R-operator route equals double backprop", () => {
  for (
    const params of ["all", (name: string) => name.includes("kernel")] as const
  ) {
    const model = mlp({ inputShape: [5], hidden: [8, 6], classes: 4, seed: 3 });
    const batch = makeBatch(12, [5], 4);
    const ctx = makeContext(model, batch);
    const make = () =>
      fisherPenalty({ alpha: 0.7, subBatch: 6, every: 1, params });
    // Double backprop: the loss hook alone, differentiated.
    const want = termAndGrad(make, ctx);
    const before = tf.memory().numTensors;
    // As train() calls it: beforeBackward, loss, then afterBackward.
    const plugin = make();
    plugin.beforeBackward!(ctx);
    const value = tf.tidy(() =>
      (plugin.loss!(ctx, tf.scalar(0)) as tf.Scalar).dataSync()[0]
    );
    const zeros = ctx.params.map((p) => tf.zerosLike(p));
    const grads = plugin.afterBackward!(ctx, zeros)!;
    assert.ok(Math.abs(value - want.value) < 1e-5 * want.value);
    grads.forEach((g, i) => {
      let err = 0;
      let size = 0;
      g.dataSync().forEach((v, j) => {
        err = Math.max(err, Math.abs(v - want.grads[i][j]));
        size = Math.max(size, Math.abs(want.grads[i][j]));
      });
      assert.ok(err <= 1e-5 * size + 1e-9, `weight ${i}: ${err} of ${size}`);
    });
    tf.dispose([...zeros, ...grads]);
    plugin.teardown?.(ctx);
    assert.equal(tf.memory().numTensors, before, "no tensor left");
    tf.dispose([batch.x, batch.y]);
    model.dispose();
  }
});
