import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { useBackend } from "../backend.ts";
import { sgd } from "../optimizer.ts";
import { axpbyInPlace } from "./in_place.ts";

await useBackend("wasm");

/** Values with a wide spread of exponents and signs, so rounding shows. */
function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const u = s / 2147483648;
    out[i] = (u - 0.5) * 10 ** Math.floor(u * 12 - 6);
  }
  return out;
}

/** A variable that alone holds its buffer (tf.variable shares its input's). */
function variable(data: Float32Array | number[]): tf.Variable {
  const t = tf.tensor1d(data);
  const v = tf.variable(t);
  t.dispose();
  return v;
}

Deno.test("axpbyInPlace matches a x + b y with ops bit for bit, any tail", () => {
  for (const n of [1, 3, 4, 7, 64, 1001]) {
    for (const [a, b] of [[-0.1, 1], [1, 0.9], [0.3, -2.5]]) {
      const y = variable(values(n, n));
      const x = tf.tensor1d(values(n, n + 7));
      const expected = tf.tidy(() =>
        tf.add(tf.mul(x, a), tf.mul(y, b)).dataSync()
      );
      const id = y.dataId;
      assert.equal(axpbyInPlace(y, x, a, b), true);
      assert.equal(y.dataId, id, "written into the same buffer");
      assert.deepEqual(y.dataSync(), expected, `n ${n}, a ${a}, b ${b}`);
      tf.dispose([x, y]);
    }
  }
});

Deno.test("axpbyInPlace leaves a shared buffer alone", () => {
  const y = variable([1, 2, 3, 4]);
  const copy = y.clone();
  const x = tf.ones([4]);
  assert.equal(axpbyInPlace(y, x, 1, 1), false);
  assert.deepEqual(Array.from(copy.dataSync()), [1, 2, 3, 4]);
  assert.deepEqual(Array.from(y.dataSync()), [1, 2, 3, 4]);
  copy.dispose();
  assert.equal(axpbyInPlace(y, x, 1, 1), true);
  assert.deepEqual(Array.from(y.dataSync()), [2, 3, 4, 5]);
  assert.equal(axpbyInPlace(y, y, 1, 1), false, "x is y");
  assert.equal(axpbyInPlace(y, tf.ones([5]), 1, 1), false, "sizes differ");
  assert.equal(
    axpbyInPlace(tf.tensor1d([1, 2, 3, 4], "int32"), x, 1, 1),
    false,
    "int32",
  );
});

/** The update of sgd() written with ops, the recurrence it documents. */
function reference(
  start: Float32Array,
  grads: Float32Array[],
  lr: number,
  mu: number,
  nesterov: boolean,
): Float32Array {
  return tf.tidy(() => {
    let p: tf.Tensor = tf.tensor1d(start);
    let v: tf.Tensor = tf.zerosLike(p);
    for (const values of grads) {
      const g = tf.tensor1d(values);
      if (mu === 0) {
        p = tf.sub(p, tf.mul(g, lr));
        continue;
      }
      v = tf.add(tf.mul(v, mu), g);
      const step = nesterov ? tf.add(g, tf.mul(v, mu)) : v;
      p = tf.sub(p, tf.mul(step, lr));
    }
    return p.dataSync() as Float32Array;
  });
}

Deno.test("sgd() on wasm equals its recurrence in ops bit for bit", () => {
  const cases = [
    { lr: 0.05, momentum: 0, nesterov: false },
    { lr: 0.05, momentum: 0.9, nesterov: false },
    { lr: 0.05, momentum: 0.9, nesterov: true },
  ];
  for (const options of cases) {
    for (const shared of [false, true]) {
      const start = values(1003, 3);
      const grads = [values(1003, 11), values(1003, 12), values(1003, 13)];
      const p = variable(start);
      const opt = sgd(options);
      const id = p.dataId;
      const before = tf.memory().numTensors;
      for (const g of grads) {
        // A clone held across the update shares p's buffer, so the update
        // must not write into it.
        const hold = shared ? p.clone() : undefined;
        const kept = hold?.dataSync().slice();
        const t = tf.tensor1d(g);
        opt.apply([p], [t]);
        t.dispose();
        if (hold) assert.deepEqual(hold.dataSync(), kept, "clone intact");
        hold?.dispose();
      }
      // The only new tensor is the velocity (momentum's one state).
      assert.equal(
        tf.memory().numTensors,
        before + (options.momentum > 0 ? 1 : 0),
        "no tensor left behind",
      );
      const label = `${JSON.stringify(options)}, shared ${shared}`;
      assert.equal(p.dataId === id, !shared && !options.nesterov, label);
      assert.deepEqual(
        p.dataSync(),
        reference(start, grads, options.lr, options.momentum, options.nesterov),
        label,
      );
      opt.dispose();
      p.dispose();
    }
  }
});
