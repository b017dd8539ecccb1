import assert from "node:assert/strict";
import { tf } from "../core/tf.ts";
import { type BackendName, useBackend } from "../core/backend.ts";
import type { Plugin } from "../core/types.ts";
import {
  fisherPenalty,
  gradientNormPenalty,
  inputGradientPenalty,
} from "./mod.ts";
import {
  directionalError,
  makeBatch,
  makeContext,
  termAndGrad,
  termValue,
  tinyCnn,
} from "./_testing.ts";

const penalties: [string, () => Plugin][] = [
  ["fisherPenalty", () => fisherPenalty({ alpha: 1, every: 1, subBatch: 4 })],
  ["gradientNormPenalty", () => gradientNormPenalty({ alpha: 1, every: 1 })],
  ["inputGradientPenalty", () => inputGradientPenalty({ alpha: 1, every: 1 })],
];

// Conv and max-pool second derivatives come from core/kernels, which
// useBackend installs.
for (const backend of ["cpu", "wasm"] as BackendName[]) {
  for (const [name, make] of penalties) {
    Deno.test(`${name}() gradient matches central differences (CNN, ${backend})`, async () => {
      await useBackend(backend);
      const model = tinyCnn();
      const batch = makeBatch(6, [6, 6, 1], 3);
      const ctx = makeContext(model, batch);
      const before = tf.memory().numTensors;
      const { value, grads } = termAndGrad(make, ctx);
      assert.equal(tf.memory().numTensors, before);
      assert.ok(value > 0);
      // A small step, so that no ReLU or max-pool switch is crossed.
      const error = directionalError(
        () => termValue(make, ctx),
        grads,
        ctx.params,
        { h: 1e-3 },
      );
      assert.ok(error < 2e-2, `relative error ${error}`);
      tf.dispose([batch.x, batch.y, ...ctx.params]);
    });
  }
}
