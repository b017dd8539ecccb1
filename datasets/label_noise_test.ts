import assert from "node:assert/strict";
import { Random } from "../core/random.ts";
import { createDataset } from "./create_dataset.ts";
import { CIFAR10_ASYMMETRIC, labelNoise } from "./label_noise.ts";

/** n examples with labels cycling over `classes` (balanced). */
function balanced(n: number, classes: number) {
  const y = new Int32Array(n).map((_, i) => i % classes);
  return createDataset(new Float32Array(n), y, {
    shape: [1],
    numClasses: classes,
    name: "toy",
  });
}

function sum(a: Uint8Array): number {
  return a.reduce((s, v) => s + v, 0);
}

Deno.test("labelNoise() symmetric corrupts exactly round(p*N) labels", () => {
  const ds = balanced(1003, 10);
  for (const p of [0, 0.1, 0.25, 0.5, 0.8, 1]) {
    const noisy = labelNoise(ds, {
      kind: "symmetric",
      fraction: p,
      rng: new Random(1),
    });
    const want = Math.round(p * ds.length);
    assert.equal(sum(noisy.noisy), want);
    let wrong = 0;
    for (let i = 0; i < ds.length; i++) {
      assert.equal(noisy.cleanLabels[i], ds.labels[i]);
      assert.equal(noisy.noisy[i], noisy.labels[i] !== ds.labels[i] ? 1 : 0);
      assert.ok(noisy.labels[i] >= 0 && noisy.labels[i] < 10);
      if (noisy.labels[i] !== noisy.cleanLabels[i]) wrong++;
    }
    assert.equal(wrong, want);
    assert.equal(noisy.x, ds.x);
  }
});

Deno.test("labelNoise() is seeded", () => {
  const ds = balanced(500, 5);
  const noise = (seed: number) =>
    labelNoise(ds, { kind: "symmetric", fraction: 0.3, rng: new Random(seed) })
      .labels;
  assert.deepEqual(noise(4), noise(4));
  assert.notDeepEqual(noise(4), noise(5));
});

Deno.test("labelNoise() symmetric draws new classes uniformly", () => {
  // With all clean labels 0, new labels should be uniform over 1..9.
  const n = 9000;
  const ds = createDataset(new Float32Array(n), new Int32Array(n), {
    shape: [1],
    numClasses: 10,
  });
  const noisy = labelNoise(ds, {
    kind: "symmetric",
    fraction: 1,
    rng: new Random(2),
  });
  const counts = new Array(10).fill(0);
  for (const y of noisy.labels) counts[y]++;
  assert.equal(counts[0], 0);
  const expected = n / 9;
  const chi2 = counts.slice(1).reduce(
    (s, c) => s + (c - expected) ** 2 / expected,
    0,
  );
  // 8 degrees of freedom: P(chi2 > 26.1) = 0.001.
  assert.ok(chi2 < 26.1, `chi-square ${chi2.toFixed(1)}, counts ${counts}`);
});

Deno.test("labelNoise() symmetric picks examples uniformly", () => {
  // Each example is corrupted with probability p: over seeds, counts per
  // position should be binomial, not concentrated.
  const ds = balanced(20, 4);
  const hits = new Array(20).fill(0);
  const trials = 2000;
  const rng = new Random(3);
  for (let t = 0; t < trials; t++) {
    const noisy = labelNoise(ds, { kind: "symmetric", fraction: 0.25, rng });
    noisy.noisy.forEach((v, i) => (hits[i] += v));
  }
  const expected = trials * 0.25;
  const chi2 = hits.reduce(
    (s, h) => s + (h - expected) ** 2 / (expected * 0.75),
    0,
  );
  // About 19 degrees of freedom: P(chi2 > 43.8) = 0.001.
  assert.ok(chi2 < 43.8, `chi-square ${chi2.toFixed(1)}`);
});

Deno.test("labelNoise() asymmetric flips round(p*N_c) per mapped class", () => {
  const y = new Int32Array(1000).map((_, i) => (i * 7) % 10);
  y[0] = 3; // make classes unequal
  const ds = createDataset(new Float32Array(1000), y, {
    shape: [1],
    numClasses: 10,
  });
  const perClass = new Array(10).fill(0);
  for (const c of y) perClass[c]++;
  const noisy = labelNoise(ds, {
    kind: "asymmetric",
    fraction: 0.35,
    rng: new Random(6),
    mapping: CIFAR10_ASYMMETRIC,
  });
  const flipped = new Array(10).fill(0);
  for (let i = 0; i < ds.length; i++) {
    if (!noisy.noisy[i]) continue;
    const from = ds.labels[i];
    assert.equal(noisy.labels[i], CIFAR10_ASYMMETRIC[from]);
    flipped[from]++;
  }
  for (let c = 0; c < 10; c++) {
    const want = c in CIFAR10_ASYMMETRIC ? Math.round(0.35 * perClass[c]) : 0;
    assert.equal(flipped[c], want, `class ${c}`);
  }
});

Deno.test("labelNoise() asymmetric defaults to pair flipping", () => {
  const ds = balanced(300, 3);
  const noisy = labelNoise(ds, {
    kind: "asymmetric",
    fraction: 0.2,
    rng: new Random(7),
  });
  assert.equal(sum(noisy.noisy), 60);
  noisy.labels.forEach((y, i) => {
    if (noisy.noisy[i]) assert.equal(y, (ds.labels[i] + 1) % 3);
  });
  const perm = labelNoise(ds, {
    kind: "asymmetric",
    fraction: 1,
    rng: new Random(7),
    mapping: [2, 0, 1],
  });
  perm.labels.forEach((y, i) => assert.equal(y, [2, 0, 1][ds.labels[i]]));
});

Deno.test("labelNoise() replaces earlier noise and checks its input", () => {
  const ds = balanced(100, 4);
  const once = labelNoise(ds, {
    kind: "symmetric",
    fraction: 0.5,
    rng: new Random(1),
  });
  const twice = labelNoise(once, {
    kind: "symmetric",
    fraction: 0.1,
    rng: new Random(1),
  });
  assert.equal(sum(twice.noisy), 10);
  assert.deepEqual(twice.cleanLabels, ds.labels);
  const rng = new Random(0);
  assert.throws(
    () => labelNoise(ds, { kind: "symmetric", fraction: 1.5, rng }),
    /fraction is 1.5/,
  );
  assert.throws(
    () =>
      labelNoise(ds, {
        kind: "asymmetric",
        fraction: 0.1,
        rng,
        mapping: { 1: 4 },
      }),
    /mapping 1 -> 4 has target 4 outside \[0, 4\)/,
  );
  assert.throws(
    () => labelNoise(balanced(5, 1), { kind: "symmetric", fraction: 1, rng }),
    /one class/,
  );
});
