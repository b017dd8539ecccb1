import assert from "node:assert/strict";
import { tf } from "./tf.ts";
import { useBackend } from "./backend.ts";
import { evaluate } from "./evaluate.ts";
import { crossEntropy } from "./functional.ts";
import { Random } from "./random.ts";
import { mlp } from "../models/mod.ts";
import { createDataset, normalize } from "../datasets/mod.ts";

await useBackend("cpu");

function data(n: number) {
  const r = new Random(5);
  const x = Float32Array.from({ length: n * 6 }, () => r.normal());
  const labels = Int32Array.from({ length: n }, () => r.int(3));
  return createDataset(x, labels, { shape: [1, 2, 3], numClasses: 3 });
}

Deno.test("evaluate() matches loss and accuracy computed in one pass", async () => {
  const ds = data(37);
  const model = mlp({
    inputShape: [1, 2, 3],
    hidden: [5],
    classes: 3,
    seed: 2,
  });
  const got = await evaluate(model, ds, { batchSize: 8 });
  const x = tf.tensor(ds.x, [37, 1, 2, 3]);
  const y = tf.tensor1d(ds.labels, "int32");
  const logits = model.predict(x) as tf.Tensor;
  const loss = crossEntropy(logits, y).dataSync()[0];
  const pred = tf.argMax(logits, -1).dataSync();
  const acc = ds.labels.filter((l, i) => l === pred[i]).length / 37;
  assert.ok(Math.abs(got.loss - loss) < 1e-5, `${got.loss} vs ${loss}`);
  assert.equal(got.accuracy, acc);
  assert.equal(got.examples, 37);
  tf.dispose([x, y, logits]);
});

Deno.test("evaluate() applies the test transform to each batch", async () => {
  const ds = data(20);
  const stats = { mean: [1, 0, -1], std: [2, 1, 0.5] };
  const shifted = createDataset(
    ds.x.map((v, i) => (v - stats.mean[i % 3]) / stats.std[i % 3]),
    ds.labels,
    { shape: ds.shape, numClasses: 3 },
  );
  const model = mlp({
    inputShape: [1, 2, 3],
    hidden: [5],
    classes: 3,
    seed: 2,
  });
  const a = await evaluate(model, ds, { transform: normalize(stats) });
  const b = await evaluate(model, shifted);
  assert.ok(Math.abs(a.loss - b.loss) < 1e-5);
  const plain = await evaluate(model, ds);
  assert.notEqual(plain.loss, a.loss);
});
