import assert from "node:assert/strict";
import { gaussianMixture } from "./gaussian_mixture.ts";
import type { Dataset } from "./types.ts";

function counts(ds: Dataset): number[] {
  const out = new Array(ds.numClasses).fill(0);
  for (const y of ds.labels) out[y]++;
  return out;
}

/** Accuracy of the nearest class mean (means taken from `fit`). */
function nearestMeanAccuracy(fit: Dataset, evaluate: Dataset): number {
  const dim = fit.x.length / fit.length;
  const means = Array.from(
    { length: fit.numClasses },
    () => new Float64Array(dim),
  );
  const sizes = counts(fit);
  for (let i = 0; i < fit.length; i++) {
    for (let d = 0; d < dim; d++) {
      means[fit.labels[i]][d] += fit.x[i * dim + d] / sizes[fit.labels[i]];
    }
  }
  let right = 0;
  for (let i = 0; i < evaluate.length; i++) {
    let best = -1, bestDist = Infinity;
    means.forEach((m, c) => {
      let dist = 0;
      for (let d = 0; d < dim; d++) {
        dist += (evaluate.x[i * dim + d] - m[d]) ** 2;
      }
      if (dist < bestDist) [best, bestDist] = [c, dist];
    });
    if (best === evaluate.labels[i]) right++;
  }
  return right / evaluate.length;
}

Deno.test("gaussianMixture() makes balanced, seeded, separable classes", () => {
  const a = gaussianMixture({ classes: 4, dim: 10, size: 403, seed: 1 });
  assert.equal(a.train.length, 403);
  assert.equal(a.test.length, 1000);
  assert.deepEqual(a.train.shape, [10]);
  const c = counts(a.train);
  assert.ok(Math.max(...c) - Math.min(...c) <= 1, `${c}`);
  const b = gaussianMixture({ classes: 4, dim: 10, size: 403, seed: 1 });
  assert.deepEqual(a.train.x, b.train.x);
  assert.deepEqual(a.test.labels, b.test.labels);
  const other = gaussianMixture({ classes: 4, dim: 10, size: 403, seed: 2 });
  assert.notDeepEqual(other.train.x, a.train.x);
  // Well separated: nearest mean classifies the test split well.
  assert.ok(nearestMeanAccuracy(a.train, a.test) > 0.9);
  // With no separation the classes are indistinguishable.
  const blur = gaussianMixture({ classes: 4, dim: 10, separation: 0 });
  assert.ok(nearestMeanAccuracy(blur.train, blur.test) < 0.4);
});

Deno.test("gaussianMixture() takes an image shape", () => {
  const { train } = gaussianMixture({ shape: [4, 4, 1], size: 20 });
  assert.deepEqual(train.shape, [4, 4, 1]);
  assert.equal(train.x.length, 20 * 16);
  assert.throws(() => gaussianMixture({ classes: 0 }), /classes is 0/);
});
