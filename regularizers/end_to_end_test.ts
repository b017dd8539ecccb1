import assert from "node:assert/strict";
import { tf, tfl } from "../core/tf.ts";
import { train, type TrainOptions } from "../core/train.ts";
import { sgd } from "../core/optimizer.ts";
import { Random } from "../core/random.ts";
import { mlp } from "../models/mod.ts";
import { createDataset } from "../datasets/mod.ts";
import type { DataSplits } from "../datasets/types.ts";
import { fisherPenalty, weightDecay } from "./mod.ts";
import { exactTraces } from "./_testing.ts";

/** Ten Gaussian clusters in 20 dimensions, overlapping enough to be hard. */
function mixture(n: number, seed: number, name: string) {
  const dim = 20;
  const classes = 10;
  const centers = new Random(99);
  const mu = Float32Array.from(
    { length: classes * dim },
    () => centers.normal(),
  );
  const random = new Random(seed);
  const x = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = random.int(classes);
    labels[i] = c;
    for (let d = 0; d < dim; d++) {
      x[i * dim + d] = mu[c * dim + d] + 1.5 * random.normal();
    }
  }
  return createDataset(x, labels, { shape: [dim], numClasses: classes, name });
}

const data: DataSplits = {
  train: mixture(512, 1, "mixture/train"),
  test: mixture(128, 2, "mixture/test"),
};

const outDir = await Deno.makeTempDir({ prefix: "fisherlab-regularizers-" });

function options(extra: Partial<TrainOptions>): TrainOptions {
  return {
    model: (seed) =>
      mlp({ inputShape: [20], hidden: [64, 64], classes: 10, seed }),
    data,
    epochs: 1,
    batchSize: 32,
    optimizer: sgd({ lr: 0.01 }),
    backend: "cpu",
    outDir,
    progress: false,
    seed: 4,
    ...extra,
  };
}

function weightsOf(model: tfl.LayersModel): Float32Array[] {
  return model.weights.map((w) => w.read().dataSync() as Float32Array);
}

function relativeDistance(a: Float32Array[], b: Float32Array[]): number {
  let diff = 0;
  let norm = 0;
  a.forEach((t, i) =>
    t.forEach((v, j) => {
      diff += (v - b[i][j]) ** 2;
      norm += v ** 2;
    })
  );
  return Math.sqrt(diff / norm);
}

function meanTrace(model: tfl.LayersModel, x: tf.Tensor): number {
  const params = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const traces = exactTraces(model, x, params);
  return traces.reduce((a, b) => a + b, 0) / traces.length;
}

Deno.test("fisherPenalty() in training ends with a lower Tr(F), same seed", async () => {
  // 320 steps of SGD at lr 0.01; Tr(F) exact over classes on 64 training
  // examples at the end.
  const probe = tf.tensor(data.train.x.slice(0, 64 * 20), [64, 20]);
  const plain = await train(options({ epochs: 20 }));
  const before = tf.memory().numTensors;
  const fp = fisherPenalty({ alpha: 1, every: 10, subBatch: 32 });
  const penalized = await train(options({ epochs: 20, plugins: [fp] }));
  const withPenalty = meanTrace(penalized.model, probe);
  const without = meanTrace(plain.model, probe);
  assert.ok(
    withPenalty < 0.9 * without,
    `Tr(F) ${withPenalty} with the penalty, ${without} without`,
  );
  assert.equal(penalized.steps, 320);
  assert.equal(fp.stats.penaltySteps, 32);
  assert.equal(fp.stats.gradientEvaluations, 32);
  const logged = penalized.history.filter((r) =>
    r.name === "fisher/penalty_trace"
  );
  assert.deepEqual(
    logged.map((r) => r.step),
    Array.from({ length: 32 }, (_, k) => 10 * k),
  );
  // The penalized run holds only what the plain run holds: its model.
  penalized.model.dispose();
  assert.equal(tf.memory().numTensors, before);
  plain.model.dispose();
  probe.dispose();
});

Deno.test('fisherPenalty() "finite-difference" trains like "exact"', async () => {
  // A smooth net: on a ReLU one a difference step that crosses a kink is
  // off by far more than its truncation error, and which steps cross one
  // changes with the last bit of the trajectory.
  const model = (seed: number) =>
    mlp({
      inputShape: [20],
      hidden: [64, 64],
      classes: 10,
      activation: "tanh",
      seed,
    });
  const run = async (method: "exact" | "finite-difference") => {
    const fp = fisherPenalty({ alpha: 1, every: 1, method });
    const result = await train(
      options({ model, maxSteps: 10, plugins: [fp] }),
    );
    const weights = weightsOf(result.model);
    result.model.dispose();
    return { weights, stats: fp.stats };
  };
  const exact = await run("exact");
  const approx = await run("finite-difference");
  const plain = await train(options({ model, maxSteps: 10 }));
  const distance = relativeDistance(exact.weights, approx.weights);
  const effect = relativeDistance(exact.weights, weightsOf(plain.model));
  plain.model.dispose();
  assert.ok(distance < 1e-2 * effect, `${distance} vs effect ${effect}`);
  assert.equal(exact.stats.gradientEvaluations, 10);
  assert.equal(approx.stats.gradientEvaluations, 30);
});

Deno.test("fisherPenalty() leaves batch-norm running statistics alone", async () => {
  const model = (seed: number) =>
    tfl.sequential({
      layers: [
        tfl.layers.dense({
          units: 16,
          inputShape: [20],
          kernelInitializer: tfl.initializers.glorotNormal({ seed }),
        }),
        tfl.layers.batchNormalization(),
        tfl.layers.dense({
          units: 10,
          kernelInitializer: tfl.initializers.glorotNormal({ seed: seed + 1 }),
        }),
      ],
    });
  const stats = async (plugins: TrainOptions["plugins"]) => {
    const r = await train(options({ model, maxSteps: 1, plugins }));
    const out = r.model.nonTrainableWeights.map((w) =>
      w.read().dataSync() as Float32Array
    );
    r.model.dispose();
    return out;
  };
  const plain = await stats([]);
  const penalized = await stats([
    fisherPenalty({ alpha: 1, every: 1, subBatch: 8 }),
  ]);
  assert.equal(plain.length, 2);
  assert.deepEqual(penalized, plain);
});

Deno.test('weightDecay() "decoupled" equals "l2" under plain SGD', async () => {
  const run = async (mode: "l2" | "decoupled") => {
    const result = await train(options({
      epochs: 2,
      maxSteps: 20,
      optimizer: sgd({ lr: 0.1 }),
      plugins: [weightDecay({ coefficient: 0.05, mode })],
    }));
    const weights = weightsOf(result.model);
    const logged = result.history.filter((r) => r.name === "reg/weight_decay");
    result.model.dispose();
    return { weights, logged: logged.length };
  };
  const l2 = await run("l2");
  const decoupled = await run("decoupled");
  const plain = await train(
    options({ epochs: 2, maxSteps: 20, optimizer: sgd({ lr: 0.1 }) }),
  );
  const effect = relativeDistance(l2.weights, weightsOf(plain.model));
  plain.model.dispose();
  assert.ok(effect > 1e-3, `decay changed the weights by only ${effect}`);
  assert.ok(relativeDistance(l2.weights, decoupled.weights) < 1e-5);
  assert.equal(l2.logged, 20);
  assert.equal(decoupled.logged, 20);
});
