import assert from "node:assert/strict";
import { useBackend } from "../core/backend.ts";
import { Random } from "../core/random.ts";
import { batchCount, batches, takeBatch } from "./batches.ts";
import { createDataset } from "./create_dataset.ts";
import type { Augmentation } from "./augmentation.ts";
import { normalize } from "./normalize.ts";
import { horizontalFlip } from "./horizontal_flip.ts";

await useBackend("cpu");

/** Example i has every value equal to i; label i % 3. */
function tiny(n: number) {
  const x = new Float32Array(n * 4);
  for (let i = 0; i < x.length; i++) x[i] = Math.floor(i / 4);
  const y = new Int32Array(n).map((_, i) => i % 3);
  return createDataset(x, y, { shape: [2, 2, 1], numClasses: 3 });
}

Deno.test("batches() visits every example once, in batches", async () => {
  const ds = tiny(10);
  const seen: number[] = [];
  const sizes: number[] = [];
  for (const b of batches(ds, { batchSize: 4, rng: new Random(3) })) {
    assert.deepEqual(b.x.shape, [b.size, 2, 2, 1]);
    const x = await b.x.data();
    const y = await b.y.data();
    for (let i = 0; i < b.size; i++) {
      assert.equal(x[i * 4], b.indices[i]);
      assert.equal(y[i], b.indices[i] % 3);
    }
    assert.equal(b.y.dtype, "int32");
    seen.push(...b.indices);
    sizes.push(b.size);
    b.x.dispose();
    b.y.dispose();
  }
  assert.deepEqual(sizes, [4, 4, 2]);
  assert.deepEqual([...seen].sort((a, b) => a - b), [...Array(10).keys()]);
  assert.notDeepEqual(seen, [...Array(10).keys()]);
});

Deno.test("batches() is seeded and honours shuffle and dropLast", () => {
  const ds = tiny(50);
  const order = (rng: Random, shuffle = true) =>
    [...batches(ds, { batchSize: 8, rng, shuffle, dropLast: true })]
      .flatMap((b) => {
        b.x.dispose();
        b.y.dispose();
        return [...b.indices];
      });
  const rng = new Random(5);
  const state = rng.state();
  const first = order(rng);
  assert.equal(first.length, 48);
  const second = order(rng);
  assert.notDeepEqual(first, second);
  rng.restore(state);
  assert.deepEqual(order(rng), first);
  assert.deepEqual(order(new Random(5), false), [...Array(48).keys()]);
});

Deno.test("batches() order does not depend on augmentation", () => {
  const ds = tiny(20);
  const calls: number[] = [];
  const spy: Augmentation = {
    name: "spy",
    apply(x, _shape, rng) {
      calls.push(rng.next());
      x[0] = -1;
    },
  };
  const run = (augment?: Augmentation) =>
    [...batches(ds, { batchSize: 5, rng: new Random(9), augment })].map(
      (b) => {
        const first = b.x.dataSync()[0];
        b.x.dispose();
        b.y.dispose();
        return { indices: [...b.indices], first };
      },
    );
  const plain = run();
  const augmented = run(spy);
  assert.deepEqual(
    augmented.map((b) => b.indices),
    plain.map((b) => b.indices),
  );
  assert.ok(augmented.every((b) => b.first === -1));
  assert.equal(calls.length, 4);
  assert.equal(ds.x[0], 0, "augmentation must not touch the data set");
});

Deno.test("batchCount() and takeBatch() check their input", () => {
  const ds = tiny(10);
  assert.equal(batchCount(ds, 3), 4);
  assert.equal(batchCount(ds, 3, true), 3);
  assert.throws(() => batchCount(ds, 0), RangeError);
  assert.throws(() => takeBatch(ds, [10]), /\[0, 10\)/);
  assert.throws(() => batches(ds, { batchSize: 2 }).next(), TypeError);
  const b = takeBatch(ds, [7, 2]);
  assert.deepEqual([...b.y.dataSync()], [1, 2]);
  b.x.dispose();
  b.y.dispose();
});

Deno.test("batches() runs a deterministic transform without rng", () => {
  const ds = tiny(6);
  const augment = normalize({ mean: [1], std: [2] });
  const out = [...batches(ds, { batchSize: 6, shuffle: false, augment })];
  assert.equal(out.length, 1);
  const x = out[0].x.dataSync();
  assert.equal(x[4 * 5], (5 - 1) / 2);
  out[0].x.dispose();
  out[0].y.dispose();
  const random = horizontalFlip();
  assert.throws(
    () => batches(ds, { batchSize: 2, shuffle: false, augment: random }).next(),
    TypeError,
  );
  assert.throws(
    () => takeBatch(ds, [0], { augment: random }),
    /pass \{ rng \}/,
  );
});
