import assert from "node:assert/strict";
import { tf, tfl } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import type { Dataset } from "../datasets/types.ts";
import { firstEpochReaching, memorization } from "./memorization.ts";

await useBackend("cpu");

/** 12 examples, 3 classes; examples 0, 5 and 9 have corrupted labels. */
function noisyToy(): Dataset {
  const n = 12, classes = 3;
  const cleanLabels = Int32Array.from({ length: n }, (_, i) => i % classes);
  const labels = cleanLabels.slice();
  const noisy = new Uint8Array(n);
  for (const i of [0, 5, 9]) {
    labels[i] = (cleanLabels[i] + 1) % classes;
    noisy[i] = 1;
  }
  // Each input is the one-hot code of the example's index.
  const x = new Float32Array(n * n);
  for (let i = 0; i < n; i++) x[i * n + i] = 1;
  return {
    name: "noisy-toy",
    x,
    shape: [n],
    labels,
    cleanLabels,
    noisy,
    numClasses: classes,
    length: n,
  };
}

/** A linear model mapping example i to `targets[i]`. */
function lookup(targets: Int32Array, classes: number) {
  const n = targets.length;
  const model = tfl.sequential({
    layers: [tfl.layers.dense({ units: classes, inputShape: [n] })],
  });
  const kernel = new Float32Array(n * classes);
  targets.forEach((c, i) => kernel[i * classes + c] = 5);
  const weights = [tf.tensor2d(kernel, [n, classes]), tf.zeros([classes])];
  model.setWeights(weights);
  tf.dispose(weights);
  return model;
}

Deno.test("memorization() separates clean learning from memorizing", async () => {
  const ds = noisyToy();
  const before = tf.memory().numTensors;

  const learnedClean = lookup(ds.cleanLabels, 3);
  const a = await memorization(learnedClean, ds, { batchSize: 5 });
  assert.deepEqual(a, {
    noisyAcc: 0,
    cleanAcc: 1,
    noisyCleanAcc: 1,
    noisyCount: 3,
    cleanCount: 9,
  });

  const memorized = lookup(ds.labels, 3);
  const b = await memorization(memorized, ds);
  assert.equal(b.noisyAcc, 1);
  assert.equal(b.cleanAcc, 1);
  assert.equal(b.noisyCleanAcc, 0);

  // One noisy example (0) and two clean (1, 2) fitted to the noisy labels.
  const partial = await memorization(memorized, ds, { indices: [0, 1, 2] });
  assert.equal(partial.noisyCount, 1);
  assert.equal(partial.cleanCount, 2);
  learnedClean.dispose();
  memorized.dispose();
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("firstEpochReaching() finds the first crossing", () => {
  const history = [0.1, 0.5, 0.4, 0.95, 0.97].map((value, epoch) => ({
    name: "memo/noisy_acc",
    value,
    step: epoch * 3,
    epoch,
    scope: "epoch" as const,
  }));
  assert.equal(firstEpochReaching(history, 0.5), 1);
  assert.equal(firstEpochReaching(history, 0.9), 3);
  assert.equal(firstEpochReaching(history, 0.99), undefined);
});
