import assert from "node:assert/strict";
import { tf } from "./tf.ts";
import { useBackend } from "./backend.ts";
import { sgd } from "./optimizer.ts";

await useBackend("cpu");

function run(opts: Parameters<typeof sgd>[0], grads: number[]): number {
  const p = tf.variable(tf.scalar(1));
  const opt = sgd(opts);
  for (const g of grads) opt.apply([p], [tf.scalar(g)]);
  const out = p.dataSync()[0];
  p.dispose();
  opt.dispose();
  return out;
}

Deno.test("sgd() without momentum takes theta - lr g", () => {
  assert.ok(Math.abs(run({ lr: 0.5 }, [2, 4]) - (1 - 1 - 2)) < 1e-6);
});

Deno.test("sgd() with momentum matches the recurrence by hand", () => {
  // v1 = 2, p1 = 1 - 0.1*2 = 0.8; v2 = 0.9*2 + 4 = 5.8, p2 = 0.8 - 0.58.
  assert.ok(Math.abs(run({ lr: 0.1, momentum: 0.9 }, [2, 4]) - 0.22) < 1e-6);
});

Deno.test("sgd() with Nesterov momentum matches the recurrence by hand", () => {
  // v1 = 2, step g + mu v1 = 2 + 1.8 = 3.8, p1 = 1 - 0.38 = 0.62;
  // v2 = 1.8 + 4 = 5.8, step 4 + 5.22 = 9.22, p2 = 0.62 - 0.922.
  const p = run({ lr: 0.1, momentum: 0.9, nesterov: true }, [2, 4]);
  assert.ok(Math.abs(p - (0.62 - 0.922)) < 1e-6);
});

Deno.test("sgd() state round-trips through getState and setState", async () => {
  const p = tf.variable(tf.tensor1d([1, 2]));
  const a = sgd({ lr: 0.1, momentum: 0.5 });
  a.apply([p], [tf.tensor1d([1, -1])]);
  const state = await a.getState();
  const b = sgd({ lr: 0.1, momentum: 0.5 });
  b.setState(state, [p]);
  const q = tf.variable(p.clone());
  a.apply([p], [tf.tensor1d([3, 3])]);
  b.apply([q], [tf.tensor1d([3, 3])]);
  assert.deepEqual(Array.from(p.dataSync()), Array.from(q.dataSync()));
});

Deno.test("sgd() rejects bad settings", () => {
  assert.throws(() => sgd({ lr: -1 }), /lr is -1/);
  assert.throws(() => sgd({ momentum: 1 }), /momentum is 1/);
  assert.throws(() => sgd({ nesterov: true }), /nesterov needs momentum/);
});
