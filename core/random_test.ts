import assert from "node:assert/strict";
import { Random } from "./random.ts";

Deno.test("Random gives the same sequence for the same seed", () => {
  const a = new Random(42);
  const b = new Random(42);
  for (let i = 0; i < 100; i++) assert.equal(a.uint32(), b.uint32());
  assert.notEqual(new Random(43).uint32(), new Random(42).uint32());
});

Deno.test("Random.fork() streams are independent of each other's use", () => {
  const root = new Random(1);
  const a1 = root.fork("a").next();
  root.fork("b").next();
  assert.equal(root.fork("a").next(), a1);
  assert.notEqual(root.fork("b").next(), a1);
});

Deno.test("Random uniform and normal draws have the right moments", () => {
  const r = new Random(7);
  const n = 200_000;
  let s = 0, s2 = 0, z = 0, z2 = 0;
  for (let i = 0; i < n; i++) {
    const u = r.next();
    s += u;
    s2 += u * u;
    const g = r.normal();
    z += g;
    z2 += g * g;
  }
  // Means within 5 standard errors; variances within 2%.
  assert.ok(Math.abs(s / n - 0.5) < 5 * Math.sqrt(1 / 12 / n));
  assert.ok(Math.abs(s2 / n - (s / n) ** 2 - 1 / 12) < 0.02 / 12);
  assert.ok(Math.abs(z / n) < 5 / Math.sqrt(n));
  assert.ok(Math.abs(z2 / n - 1) < 0.02);
});

Deno.test("Random.int() is uniform over its range", () => {
  const r = new Random(3);
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 60_000; i++) counts[r.int(6)]++;
  for (const c of counts) assert.ok(Math.abs(c - 10_000) < 500, `${counts}`);
  assert.throws(() => r.int(0), /need n >= 1/);
});

Deno.test("Random state restores the sequence", () => {
  const r = new Random(9);
  r.next();
  const state = r.state();
  const x = r.next();
  r.next();
  r.restore(state);
  assert.equal(r.next(), x);
});

Deno.test("Random.signs() gives independent fair signs, 32 per draw", () => {
  const n = 32 * 8_000 + 5;
  const v = new Random(11).signs(n);
  assert.equal(v.length, n);
  assert.ok(v.every((s) => s === 1 || s === -1));
  // Every bit position is fair, and neighbours (in one draw and across
  // draws) are uncorrelated: each within 5 standard errors of zero.
  const draws = Math.floor(n / 32);
  const se = 5 / Math.sqrt(draws);
  for (let bit = 0; bit < 32; bit++) {
    let sum = 0;
    for (let d = 0; d < draws; d++) sum += v[d * 32 + bit];
    assert.ok(Math.abs(sum / draws) < se, `bit ${bit}: mean ${sum / draws}`);
  }
  for (const lag of [1, 31, 32, 33]) {
    let sum = 0;
    for (let i = 0; i + lag < n; i++) sum += v[i] * v[i + lag];
    assert.ok(Math.abs(sum / (n - lag)) < 5 / Math.sqrt(n), `lag ${lag}`);
  }
  // The same seed gives the same signs; 37 signs take two draws.
  assert.deepEqual(new Random(11).signs(n), v);
  const r = new Random(4);
  r.signs(37);
  const after = new Random(4);
  after.uint32();
  after.uint32();
  assert.equal(r.uint32(), after.uint32());
  assert.equal(new Random(1).signs(0).length, 0);
  assert.throws(() => r.signs(-1), /Cannot draw -1 signs/);
});
