import assert from "node:assert/strict";
import { createDataset, exampleSize } from "./create_dataset.ts";

Deno.test("createDataset() fills clean labels and the noise mask", () => {
  const ds = createDataset(new Float32Array(6), new Int32Array([2, 0, 1]), {
    shape: [2],
    name: "t",
  });
  assert.equal(ds.numClasses, 3);
  assert.equal(ds.length, 3);
  assert.deepEqual([...ds.cleanLabels], [2, 0, 1]);
  assert.notEqual(ds.cleanLabels, ds.labels);
  assert.deepEqual([...ds.noisy], [0, 0, 0]);
  assert.equal(exampleSize(ds), 2);
  const noisy = createDataset(ds.x, new Int32Array([2, 1, 1]), {
    shape: [2],
    cleanLabels: ds.cleanLabels,
  });
  assert.deepEqual([...noisy.noisy], [0, 1, 0]);
});

Deno.test("createDataset() rejects sizes and labels that disagree", () => {
  const x = new Float32Array(6);
  assert.throws(
    () => createDataset(x, new Int32Array(2), { shape: [2], name: "t" }),
    /"t": 2 labels need 4 values of shape \[2\], got 6/,
  );
  assert.throws(
    () =>
      createDataset(x, new Int32Array([0, 3, 1]), {
        shape: [2],
        numClasses: 3,
      }),
    /label 3 at index 1 is outside \[0, 3\)/,
  );
  assert.throws(
    () => createDataset(x, new Int32Array([0, -1, 1]), { shape: [2] }),
    RangeError,
  );
  assert.throws(
    () => createDataset(x, new Int32Array(3), { shape: [2, 0] }),
    /positive integers/,
  );
});
