import assert from "node:assert/strict";
import { tf } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { Random } from "../core/random.ts";
import { gatherExamples, takeBatch } from "./batches.ts";
import { createDataset } from "./create_dataset.ts";
import { horizontalFlip } from "./horizontal_flip.ts";
import type { Augmentation } from "./augmentation.ts";

await useBackend("wasm");

/** 10 examples of 2x3x1 with distinct values; label i % 3. */
function small() {
  const x = Float32Array.from({ length: 60 }, (_, i) => i * 0.5 - 7);
  const y = new Int32Array(10).map((_, i) => i % 3);
  return createDataset(x, y, { shape: [2, 3, 1], numClasses: 3 });
}

Deno.test("takeBatch() on wasm writes the examples, augmented, into the batch tensor", () => {
  const ds = small();
  const indices = [7, 2, 9, 0];
  const before = tf.memory().numTensors;
  const flip = horizontalFlip({ probability: 1 });
  const b = takeBatch(ds, indices, { augment: flip, rng: new Random(1) });
  const want = gatherExamples(ds, indices);
  flip.apply(want, ds.shape, new Random(1));
  assert.deepEqual(b.x.shape, [4, 2, 3, 1]);
  assert.deepEqual(b.x.dataSync(), want);
  assert.deepEqual(Array.from(b.y.dataSync()), [1, 2, 0, 0]);
  tf.dispose([b.x, b.y]);
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("takeBatch() on wasm refuses an augmentation that calls tfjs, and frees the batch", () => {
  const ds = small();
  const greedy: Augmentation = {
    name: "greedy",
    deterministic: true,
    apply() {
      // Enough to grow the wasm memory, so the batch's view moves.
      tf.zeros([64 * 2 ** 20]).dispose();
    },
  };
  const buffers = () =>
    (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
  const before = { ...tf.memory(), buffers: buffers() };
  assert.throws(
    () => takeBatch(ds, [0, 1], { augment: greedy }),
    /"greedy": it allocated tensors .* without calling TensorFlow\.js/,
  );
  assert.throws(() => takeBatch(ds, [0, 10]), /indices must lie in \[0, 10\)/);
  const after = tf.memory();
  assert.equal(after.numTensors, before.numTensors);
  assert.equal(after.numBytes, before.numBytes);
  assert.equal(buffers(), before.buffers, "the batch's buffer is freed");
});
