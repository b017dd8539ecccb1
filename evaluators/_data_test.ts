import assert from "node:assert/strict";
import { tf } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { flatten, unflatten } from "./_data.ts";

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`unflatten() and flatten() on ${backend} round-trip float32 values by shape`, async () => {
    await useBackend(backend);
    const like = [tf.zeros([2, 3]), tf.zeros([4]), tf.zeros([1, 1, 5])];
    const v = Float64Array.from({ length: 15 }, (_, i) => (i - 7) / 3);
    const before = tf.memory().numTensors;
    const parts = unflatten(v, like);
    assert.equal(tf.memory().numTensors, before + 3);
    assert.deepEqual(parts.map((p) => p.shape), [[2, 3], [4], [1, 1, 5]]);
    assert.ok(parts.every((p) => p.dtype === "float32"));
    assert.deepEqual(
      Array.from(parts[1].dataSync()),
      [-1 / 3, 0, 1 / 3, 2 / 3].map(Math.fround),
    );
    assert.deepEqual(await flatten(parts), v.map(Math.fround));
    tf.dispose([...parts, ...like]);
  });
}
