import assert from "node:assert/strict";
import { teacherStudent } from "./teacher_student.ts";
import type { Dataset } from "./types.ts";

function counts(ds: Dataset): number[] {
  const out = new Array(ds.numClasses).fill(0);
  for (const y of ds.labels) out[y]++;
  return out;
}

Deno.test("teacherStudent() labels inputs with a fixed random teacher", () => {
  const a = teacherStudent({ classes: 5, dim: 12, size: 2000, seed: 3 });
  const b = teacherStudent({ classes: 5, dim: 12, size: 2000, seed: 3 });
  assert.deepEqual(a.train.labels, b.train.labels);
  assert.deepEqual(a.test.x, b.test.x);
  const c = counts(a.train);
  // The fitted offsets balance the training classes (400 each).
  assert.ok(c.every((n) => Math.abs(n - 400) <= 20), `${c}`);
  const t = counts(a.test);
  assert.ok(t.every((n) => n > 50), `${t}`);
  const other = teacherStudent({ classes: 5, dim: 12, size: 2000, seed: 4 });
  assert.notDeepEqual(other.train.labels, a.train.labels);
});

Deno.test("teacherStudent() labels are learnable from the inputs", () => {
  // One teacher labels both splits, so the nearest training input predicts
  // a test label far above chance (1/3); shuffled labels would not.
  const { train, test } = teacherStudent({
    classes: 3,
    dim: 4,
    size: 2000,
    testSize: 300,
  });
  assert.equal(train.numClasses, 3);
  assert.deepEqual(train.shape, [4]);
  let right = 0;
  for (let i = 0; i < test.length; i++) {
    let best = 0, bestDist = Infinity;
    for (let j = 0; j < train.length; j++) {
      let dist = 0;
      for (let d = 0; d < 4; d++) {
        dist += (test.x[i * 4 + d] - train.x[j * 4 + d]) ** 2;
      }
      if (dist < bestDist) [best, bestDist] = [j, dist];
    }
    if (train.labels[best] === test.labels[i]) right++;
  }
  assert.ok(right / test.length > 0.7, `1-NN accuracy ${right / test.length}`);
  assert.throws(() => teacherStudent({ hidden: 0 }), /hidden is 0/);
});
