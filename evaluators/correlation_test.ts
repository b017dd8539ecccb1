import assert from "node:assert/strict";
import { Random } from "../core/random.ts";
import {
  bootstrapCorrelation,
  pearson,
  ranks,
  spearman,
} from "./correlation.ts";

const close = (a: number, b: number, tol = 1e-12) => Math.abs(a - b) < tol;

Deno.test("pearson() and spearman() match hand-computed values", () => {
  // dx = dy = +-1.5, +-0.5: sum dx dy = 4, sum dx^2 = sum dy^2 = 5.
  assert.ok(close(pearson([1, 2, 3, 4], [1, 3, 2, 4]), 0.8));
  assert.ok(close(spearman([1, 2, 3, 4], [1, 3, 2, 4]), 0.8));
  // Monotone but not linear: rho is 1, r is not (numpy: 0.7952035738).
  const x = [1, 2, 3, 4, 5], y = [1, 4, 9, 16, 100];
  assert.equal(spearman(x, y), 1);
  assert.ok(close(pearson(x, y), 0.7952035738296034, 1e-10));
  // Ties share their average rank: ranks 1, 2.5, 2.5, 4; rho = 4.5/sqrt(22.5).
  assert.deepEqual([...ranks([1, 2, 2, 3])], [1, 2.5, 2.5, 4]);
  assert.ok(close(spearman([1, 2, 2, 3], [1, 2, 3, 4]), 4.5 / Math.sqrt(22.5)));
  assert.ok(Number.isNaN(pearson([1, 1, 1], [1, 2, 3])));
  assert.ok(Number.isNaN(pearson([1], [2])));
  assert.throws(() => pearson([1, 2], [1]), /samples have 2 and 1 values/);
});

Deno.test("bootstrapCorrelation() gives an interval like Fisher's z", () => {
  const random = new Random(4);
  const n = 40;
  const x: number[] = [], y: number[] = [];
  for (let i = 0; i < n; i++) {
    x.push(random.normal());
    y.push(-0.8 * x[i] + 0.6 * random.normal());
  }
  const c = bootstrapCorrelation(x, y, pearson, { seed: 1, resamples: 2000 });
  assert.equal(c.r, pearson(x, y));
  assert.ok(c.low < c.r && c.r < c.high);
  // Normal theory: tanh(atanh(r) +- 1.96 / sqrt(n - 3)).
  const z = Math.atanh(c.r), half = 1.96 / Math.sqrt(n - 3);
  assert.ok(Math.abs(c.low - Math.tanh(z - half)) < 0.08, `${c.low}`);
  assert.ok(Math.abs(c.high - Math.tanh(z + half)) < 0.08, `${c.high}`);
  // Same seed, same interval.
  assert.deepEqual(
    bootstrapCorrelation(x, y, pearson, { seed: 1, resamples: 2000 }),
    c,
  );
  const wider = bootstrapCorrelation(x, y, pearson, {
    seed: 1,
    resamples: 2000,
    confidence: 0.99,
  });
  assert.ok(wider.low < c.low && wider.high > c.high);
});
