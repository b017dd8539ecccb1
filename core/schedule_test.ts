import assert from "node:assert/strict";
import { constant, cosine, stepDecay, warmup } from "./schedule.ts";

const at = (step: number) => ({ step, totalSteps: 100, stepsPerEpoch: 10 });

Deno.test("constant() keeps the base rate", () => {
  assert.equal(constant()(at(57)), 1);
});

Deno.test("stepDecay() multiplies by gamma at each milestone epoch", () => {
  const s = stepDecay({ milestones: [3, 6], gamma: 0.5 });
  assert.equal(s(at(29)), 1);
  assert.equal(s(at(30)), 0.5);
  assert.equal(s(at(60)), 0.25);
});

Deno.test("cosine() goes from 1 to minFactor through the midpoint", () => {
  const s = cosine({ minFactor: 0.1 });
  assert.equal(s(at(0)), 1);
  assert.ok(Math.abs(s(at(50)) - 0.55) < 1e-12);
  assert.ok(Math.abs(s(at(100)) - 0.1) < 1e-12);
});

Deno.test("warmup() rises linearly, then follows the schedule", () => {
  const s = warmup({ steps: 10 }, cosine());
  assert.equal(s(at(0)), 0);
  assert.ok(Math.abs(s(at(5)) - 0.5 * cosine()(at(5))) < 1e-12);
  assert.equal(s(at(20)), cosine()(at(20)));
});
