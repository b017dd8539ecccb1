import assert from "node:assert/strict";
import { FASHION_MNIST_CLASSES, loadFashionMnist } from "./fashion_mnist.ts";
import { withTempDir } from "./_test_files.ts";

const installed = (() => {
  try {
    return Deno.statSync("/usr/share/datasets/fashion-mnist").isDirectory;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "loadFashionMnist() reads Debian's dataset-fashion-mnist",
  ignore: !installed,
  fn() {
    const { train, test } = loadFashionMnist({ maxTrain: 2000 });
    assert.equal(train.length, 2000);
    assert.equal(test.length, 10000);
    assert.deepEqual(test.shape, [28, 28, 1]);
    assert.equal(FASHION_MNIST_CLASSES.length, test.numClasses);
    const counts = new Array(10).fill(0);
    for (const y of test.labels) counts[y]++;
    // The test split is balanced: 1,000 per class.
    assert.deepEqual(counts, new Array(10).fill(1000));
    assert.ok(test.x.every((v) => v >= 0 && v <= 1));
  },
});

Deno.test("loadFashionMnist() names the folder it was given", () =>
  withTempDir((dir) => {
    assert.throws(
      () => loadFashionMnist({ dir }),
      (e: Error) =>
        e.message.includes(dir) && e.message.includes("zalandoresearch"),
    );
  }));
