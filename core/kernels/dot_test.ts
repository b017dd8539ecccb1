import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import "./mod.ts";
import { normals, onBackend, relErr } from "./_test_util.ts";
import { DOT, dot, SQUARED_NORM, squaredSum } from "./dot.ts";

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`dot() on ${backend} is the float64 inner product, any size`, async () => {
    await onBackend(backend, () => {
      for (const n of [1, 3, 4, 9, 1000, 200_003]) {
        const a = normals(n, n, 3);
        const b = normals(n, n + 1, 0.01);
        let exact = 0;
        for (let i = 0; i < n; i++) exact += a[i] * b[i];
        const [ta, tb] = [tf.tensor1d(a), tf.tensor1d(b)];
        const got = tf.tidy(() => dot(ta, tb).dataSync()[0]);
        // The float64 sum rounded once to float32.
        assert.equal(got, Math.fround(exact), `n ${n}`);
        tf.dispose([ta, tb]);
      }
    });
  });

  Deno.test(`dot() on ${backend}: gradients of a . b and of ||a||^2 to second order`, async () => {
    await onBackend(backend, () => {
      const a = tf.tensor2d(normals(35, 1), [5, 7]);
      const b = tf.tensor2d(normals(35, 2), [5, 7]);
      const before = tf.memory().numTensors;
      const viaKernel = tf.tidy(() => {
        const [ga, gb] = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
          tf.mul(dot(x, y), 3)
        )([a, b]);
        // A gradient of a gradient: grad_a (a . a) = 2a, and the gradient
        // of ||2a||^2 is 8a.
        const [h] = tf.grads((x: tf.Tensor) => {
          const [g] = tf.grads((z: tf.Tensor) => dot(z, z))([x]);
          return dot(g, g);
        })([a]);
        return [ga, gb, h].map((t) => t.dataSync());
      });
      assert.equal(tf.memory().numTensors, before, "no tensor left");
      // With dy = 1 (a plain gradient of a . b) the gradients are b and a.
      const plain = tf.tidy(() =>
        tf.grads((x: tf.Tensor, y: tf.Tensor) => dot(x, y))([a, b])
          .map((t) => t.dataSync())
      );
      assert.deepEqual(plain, [b.dataSync(), a.dataSync()]);
      const [ga, gb, h] = viaKernel;
      assert.ok(relErr(ga, tf.mul(b, 3).dataSync()) < 1e-7);
      assert.ok(relErr(gb, tf.mul(a, 3).dataSync()) < 1e-7);
      assert.ok(relErr(h, tf.mul(a, 8).dataSync()) < 1e-6);
      tf.dispose([a, b]);
    });
  });
}

Deno.test("dot() runs its kernel and refuses tensors of different shapes", async () => {
  await onBackend("wasm", async () => {
    const a = tf.ones([4, 3]);
    const info = await tf.profile(() => dot(a, a));
    assert.deepEqual(info.kernelNames, [DOT]);
    const norm = await tf.profile(() => squaredSum(a));
    assert.deepEqual(norm.kernelNames, [SQUARED_NORM]);
    assert.throws(() => dot(a, tf.ones([3, 4])), /shapes \[4,3\] and \[3,4\]/);
    a.dispose();
  });
});

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`squaredSum() on ${backend}: the float64 sum of squares, gradient 2 dy x to second order`, async () => {
    await onBackend(backend, () => {
      const n = 1001;
      const values = normals(n, 4, 2);
      let exact = 0;
      for (const v of values) exact += v * v;
      const x = tf.tensor1d(values);
      const before = tf.memory().numTensors;
      const [value, g, h] = tf.tidy(() => {
        const value = squaredSum(x).dataSync()[0];
        const [g] = tf.grads((t: tf.Tensor) => tf.mul(squaredSum(t), 3))([x]);
        // grad of ||grad (x . x)||^2 = ||2x||^2 is 8x.
        const [h] = tf.grads((t: tf.Tensor) => {
          const [inner] = tf.grads((z: tf.Tensor) => squaredSum(z))([t]);
          return squaredSum(inner);
        })([x]);
        return [value, g.dataSync(), h.dataSync()] as const;
      });
      assert.equal(tf.memory().numTensors, before, "no tensor left");
      assert.equal(value, Math.fround(exact));
      assert.ok(relErr(g, values.map((v) => 6 * v)) < 1e-7);
      assert.ok(relErr(h, values.map((v) => 8 * v)) < 1e-6);
      x.dispose();
    });
  });
}
