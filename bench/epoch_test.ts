import assert from "node:assert/strict";
import { type EpochReference, epochRows, type EpochRun } from "./epoch.ts";

const run = (over: Partial<EpochRun> = {}): EpochRun => ({
  examplesPerSecond: 1000,
  examples: 59904,
  seconds: 59.904,
  steps: 468,
  stepsPerEpoch: 468,
  epochs: 1,
  weights: 100,
  ...over,
});

const mine = {
  mlp: run({ epochs: 3 }),
  cnn: run({ steps: 30, examples: 3840 }),
  resnet: run({ steps: 390, stepsPerEpoch: 390, weights: 78042 }),
};

Deno.test("epochRows() leaves PyTorch empty and says why when it did not run", () => {
  const rows = epochRows(mine, "PyTorch did not run: install python3-torch");
  assert.deepEqual(rows.map((r) => r.cell?.net), [
    "MLP 784-256-10",
    "SimpleCNN",
    "ResNet-8",
  ]);
  for (const row of rows) {
    assert.equal(row.reference, undefined);
    assert.equal(row.higherIsBetter, true);
    assert.equal(row.cell?.workload, "epoch");
    assert.match(row.note!, /install python3-torch/);
  }
});

Deno.test("epochRows() says how much of the epoch ran and compares the nets", () => {
  const reference = {
    torch: "1.13",
    threadCounts: [2, 1],
    mnist: "MNIST images",
    mlp: run({ examplesPerSecond: 500, threads: 1 }),
    cnn: run({ steps: 30, examples: 3840 }),
    resnet: run({ weights: 78000 }),
  } as EpochReference;
  const [mlp, cnn, resnet] = epochRows(mine, reference);
  assert.match(mlp.workload, /MNIST, epoch, 468 steps, batch 128/);
  assert.equal(mlp.reference, 500);
  assert.match(mlp.note!, /1 thread\(s\) \(the faster of 2 and 1 in a trial\)/);
  assert.match(
    mlp.note!,
    /59904 examples in 59\.9 s \(the fastest of 3 epochs\)/,
  );
  assert.doesNotMatch(cnn.note!, /fastest of/);
  assert.match(cnn.workload, /first 30 of 468 steps of an epoch/);
  assert.match(cnn.note!, /3840 MNIST images/);
  assert.match(resnet.note!, /NOT THE SAME NET: 78,042 .* 78,000 in PyTorch/);
});

Deno.test("epochRows() carries fisherlab's failure in the note", () => {
  const failed = { ...mine, cnn: run({ error: "out of memory", steps: 0 }) };
  const row = epochRows(failed, "no torch")[1];
  assert.match(row.workload, /^SimpleCNN, MNIST, epoch, batch 128$/);
  assert.match(row.note!, /^fisherlab failed: out of memory/);
});
