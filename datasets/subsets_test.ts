import assert from "node:assert/strict";
import { Random } from "../core/random.ts";
import { createDataset } from "./create_dataset.ts";
import { labelNoise } from "./label_noise.ts";
import { evalSubset, firstN, stratifiedSubset, subset } from "./subsets.ts";

/** Example i holds values [i, -i]; class sizes 50, 30, 15, 5 (n = 100). */
function skewed() {
  const sizes = [50, 30, 15, 5];
  const y = new Int32Array(100);
  let i = 0;
  sizes.forEach((s, c) => {
    for (let k = 0; k < s; k++) y[i++] = c;
  });
  new Random(1).shuffle(y);
  const x = new Float32Array(200).map((_, k) => (k % 2 ? -1 : 1) * (k >> 1));
  return createDataset(x, y, { shape: [2], numClasses: 4, name: "skewed" });
}

function classCounts(labels: Int32Array, classes = 4): number[] {
  const counts = new Array(classes).fill(0);
  for (const c of labels) counts[c]++;
  return counts;
}

Deno.test("subset() gathers examples, labels and noise mask", () => {
  const ds = labelNoise(skewed(), {
    kind: "symmetric",
    fraction: 0.3,
    rng: new Random(2),
  });
  const idx = [7, 3, 99, 3];
  const s = subset(ds, idx);
  assert.equal(s.length, 4);
  assert.deepEqual([...s.x], idx.flatMap((i) => [i, -i]));
  assert.deepEqual([...s.labels], idx.map((i) => ds.labels[i]));
  assert.deepEqual([...s.cleanLabels], idx.map((i) => ds.cleanLabels[i]));
  assert.deepEqual([...s.noisy], idx.map((i) => ds.noisy[i]));
  assert.throws(() => subset(ds, [100]), RangeError);
});

Deno.test("firstN() keeps the first n in order", () => {
  const ds = skewed();
  const s = firstN(ds, 10);
  assert.deepEqual([...s.labels], [...ds.labels.slice(0, 10)]);
  assert.equal(s.x[2 * 9], 9);
  assert.throws(() => firstN(ds, 101), /has 100; choose an integer/);
});

Deno.test("stratifiedSubset() keeps class proportions with an exact count", () => {
  const ds = skewed();
  for (const n of [0, 1, 7, 20, 33, 64, 100]) {
    const s = stratifiedSubset(ds, n, { rng: new Random(n) });
    assert.equal(s.length, n);
    const counts = classCounts(s.labels);
    assert.equal(counts.reduce((a, b) => a + b, 0), n);
    [50, 30, 15, 5].forEach((size, c) => {
      const exact = (n * size) / 100;
      assert.ok(
        Math.abs(counts[c] - exact) < 1,
        `n ${n} class ${c}: ${counts[c]} vs ${exact}`,
      );
    });
    // Distinct examples, in the order of ds.
    const ids = [...s.x].filter((_, k) => k % 2 === 0);
    assert.deepEqual(ids, [...new Set(ids)].sort((a, b) => a - b));
  }
  assert.deepEqual(
    classCounts(stratifiedSubset(ds, 20, { rng: new Random(0) }).labels),
    [10, 6, 3, 1],
  );
});

Deno.test("stratifiedSubset() is seeded and samples within classes", () => {
  const ds = skewed();
  const ids = (
    seed: number,
  ) => [...stratifiedSubset(ds, 10, { rng: new Random(seed) }).x];
  assert.deepEqual(ids(3), ids(3));
  assert.notDeepEqual(ids(3), ids(4));
});

Deno.test("evalSubset() is fixed by its seed and stratified by clean label", () => {
  const clean = skewed();
  const noisy = labelNoise(clean, {
    kind: "symmetric",
    fraction: 0.5,
    rng: new Random(9),
  });
  const a = evalSubset(clean, 40, 0);
  const b = evalSubset(noisy, 40, { seed: 0 });
  assert.deepEqual(a.x, b.x);
  assert.deepEqual(classCounts(a.labels), [20, 12, 6, 2]);
  assert.deepEqual(b.cleanLabels, a.labels);
  assert.ok(b.noisy.some((v) => v === 1), "keeps the noisy labels");
  assert.deepEqual(evalSubset(clean, 40).x, a.x);
  assert.notDeepEqual(evalSubset(clean, 40, 1).x, a.x);
});
