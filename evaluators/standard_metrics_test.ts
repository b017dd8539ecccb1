import assert from "node:assert/strict";
import { tf } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import type { Context } from "../core/types.ts";
import { standardMetrics } from "./standard_metrics.ts";

await useBackend("cpu");

/** A context with just what the plugin reads, and a recording sink. */
function fakeContext(step: number, params: tf.Variable[]) {
  const logged: { name: string; value: number }[] = [];
  const ctx = {
    counters: { step },
    params,
    optimizer: { learningRate: 0.25 },
    metrics: {
      log(name: string, value: number | tf.Tensor) {
        // The real sink clones tensors; read now, the caller disposes.
        const v = typeof value === "number" ? value : value.dataSync()[0];
        logged.push({ name, value: v });
      },
    },
  } as unknown as Context;
  return { ctx, logged };
}

Deno.test("standardMetrics() logs gradient and weight norms", () => {
  const w = tf.variable(tf.tensor2d([[3, 0], [0, 4]]));
  const b = tf.variable(tf.tensor1d([12]));
  const plugin = standardMetrics({ every: 2, lr: true });
  const grads = [tf.tensor2d([[1, 2], [2, 0]]), tf.tensor1d([4])];
  const before = tf.memory().numTensors;

  // Step 0 is due: afterBackward sees step 0, batchEnd sees step 1.
  const { ctx, logged } = fakeContext(0, [w, b]);
  assert.equal(plugin.afterBackward!(ctx, grads), undefined);
  ctx.counters.step = 1;
  plugin.batchEnd!(ctx);
  assert.deepEqual(logged, [
    { name: "grad/norm", value: 5 },
    { name: "weights/norm", value: 13 },
    { name: "lr", value: 0.25 },
  ]);

  // Step 1 is not.
  const other = fakeContext(1, [w, b]);
  plugin.afterBackward!(other.ctx, grads);
  other.ctx.counters.step = 2;
  plugin.batchEnd!(other.ctx);
  assert.equal(other.logged.length, 0);
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([w, b, ...grads]);
});

Deno.test("standardMetrics() rejects a bad interval", () => {
  assert.throws(() => standardMetrics({ every: 0 }), /every is "0"/);
});
