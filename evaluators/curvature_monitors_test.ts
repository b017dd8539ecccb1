import assert from "node:assert/strict";
import { tf } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { train } from "../core/train.ts";
import { sgd } from "../core/optimizer.ts";
import { Random } from "../core/random.ts";
import type { MetricRecord } from "../core/types.ts";
import { createDataset } from "../datasets/create_dataset.ts";
import { labelNoise } from "../datasets/label_noise.ts";
import { evalSubset } from "../datasets/subsets.ts";
import {
  fisherTraceMonitor,
  hessianTraceMonitor,
  sharpnessMonitor,
} from "./curvature_monitors.ts";
import { memorizationMonitor } from "./memorization.ts";
import { standardMetrics } from "./standard_metrics.ts";
import { fisherTrace } from "./fisher_trace.ts";
import { labelledData } from "./labelled_data.ts";
import { tinyMlp } from "./_testing.ts";

await useBackend("cpu");

function toyData(n: number, seed: number) {
  const random = new Random(seed);
  const x = Float32Array.from({ length: n * 3 }, () => random.normal());
  const labels = Int32Array.from(
    { length: n },
    (_, i) => x[3 * i] > 0 ? (x[3 * i + 1] > 0 ? 0 : 1) : 2,
  );
  return createDataset(x, labels, { shape: [3], numClasses: 3 });
}

function at(history: MetricRecord[], name: string, scope: string) {
  return history.filter((r) => r.name === name && r.scope === scope);
}

Deno.test("monitors log on their schedule during train()", async () => {
  const clean = toyData(32, 1);
  const data = {
    train: labelNoise(clean, {
      kind: "symmetric",
      fraction: 0.25,
      rng: new Random(3),
    }),
    test: toyData(16, 2),
  };
  const outDir = await Deno.makeTempDir();
  const before = tf.memory().numTensors;
  const result = await train({
    model: tinyMlp({ widths: [3, 6, 3], seed: 4 }),
    data,
    epochs: 2,
    batchSize: 8,
    optimizer: sgd({ lr: 0.05 }),
    backend: "cpu",
    outDir,
    progress: false,
    plugins: [
      fisherTraceMonitor({
        schedule: { every: 4, denseUntil: 2, denseEvery: 1 },
        data: { examples: 12 },
      }),
      hessianTraceMonitor({ maxProbes: 4, schedule: { atStart: false } }),
      sharpnessMonitor({ method: "lanczos", k: 2, data: { split: "test" } }),
      memorizationMonitor({ threshold: 0.5 }),
      standardMetrics(),
    ],
  });
  const h = result.history;
  assert.equal(result.steps, 8);

  // Tr(F): at the start, steps 1 and 2 (dense), 4 and 8, and epoch ends.
  const steps = at(h, "fisher/trace", "step").map((r) => r.step);
  assert.deepEqual(steps, [0, 1, 2, 4, 8]);
  const epochs = at(h, "fisher/trace", "epoch");
  assert.deepEqual(epochs.map((r) => r.step), [4, 8]);
  assert.equal(at(h, "fisher/trace_se", "epoch")[1].value, 0);
  assert.equal(at(h, "fisher/empirical", "epoch").length, 2);

  // The last value is Tr(F) of the final model on the same fixed subset.
  const subset = labelledData(evalSubset(data.train, 12, { seed: 0 }));
  const direct = await fisherTrace(result.model, subset);
  tf.dispose([subset.x, subset.y]);
  assert.ok(Math.abs(epochs[1].value - direct.trace) < 1e-5 * direct.trace);

  assert.equal(at(h, "hessian/trace", "step").length, 0);
  assert.equal(at(h, "hessian/trace", "epoch").length, 2);
  assert.equal(at(h, "hessian/trace_se", "epoch").length, 2);
  const top = at(h, "hessian/eigenvalue_1", "epoch");
  const second = at(h, "hessian/eigenvalue_2", "epoch");
  assert.equal(top.length, 2);
  assert.ok(top[1].value >= second[1].value);
  assert.equal(at(h, "hessian/lambda_max", "epoch")[1].value, top[1].value);

  assert.equal(at(h, "memo/noisy_acc", "epoch").length, 2);
  assert.equal(at(h, "memo/clean_acc", "epoch").length, 2);
  assert.equal(h.filter((r) => r.name === "grad/norm").length, 8);
  const weights = h.filter((r) => r.name === "weights/norm");
  assert.equal(weights.length, 8);
  const norm = Math.sqrt(tf.tidy(() =>
    result.model.trainableWeights.reduce(
      (s, w) => s + tf.sum(tf.square(w.read())).dataSync()[0],
      0,
    )
  ));
  assert.ok(Math.abs(weights[7].value - norm) < 1e-5 * norm);

  result.model.dispose();
  assert.equal(tf.memory().numTensors, before);
  await Deno.remove(outDir, { recursive: true });
});

Deno.test("sharpnessMonitor() rejects an unknown method", () => {
  assert.throws(
    () => sharpnessMonitor({ method: "arnoldi" as never }),
    /method "arnoldi" is unknown; choose "power" or "lanczos"/,
  );
});
