import assert from "node:assert/strict";
import { tf, tfl } from "../tf.ts";
import "./mod.ts";
import { NATIVE_SKIP, onBackend, randn, relErr } from "./_test_util.ts";
import {
  DENSE,
  type DenseActivation,
  fusedDense,
  RELU_BACKWARD,
} from "./dense.ts";

type Dense = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor | null) => tf.Tensor;

/** act(x W + b) by plain ops, the reference. */
function composite(activation: DenseActivation): Dense {
  return (x, w, b) => {
    const z = b ? tf.add(tf.matMul(x, w), b) : tf.matMul(x, w);
    return activation === "relu" ? tf.relu(z) : z;
  };
}

function fused(activation: DenseActivation): Dense {
  return (x, w, b) => fusedDense(x, w, b, activation)!;
}

/**
 * The value, first derivatives and the derivatives of ||grad||^2 (a
 * gradient of a gradient, as the Fisher penalty takes) of a weighted sum
 * of tanh(dense(x)), all with respect to x, W and b.
 */
function derivatives(f: Dense, x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) {
  return tf.tidy(() => {
    const u = randn([x.shape[0]!, w.shape[1]!], 9);
    const loss = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
      tf.sum(tf.mul(tf.tanh(f(xx, ww, bb)), u));
    const first = tf.grads(loss);
    const norm = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
      tf.addN(first([xx, ww, bb]).map((g) => tf.sum(tf.square(g))));
    const second = tf.grads(norm)([x, w, b]);
    return {
      value: f(x, w, b).dataSync(),
      first: first([x, w, b]).map((g) => g.dataSync()),
      second: second.map((g) => g.dataSync()),
    };
  });
}

const CASES: [string, "cpu" | "wasm", "on" | "off"][] = [
  ["cpu", "cpu", "off"],
  ["wasm", "wasm", "off"],
  ["wasm, native pack", "wasm", "on"],
];

for (const [label, backend, native] of CASES) {
  Deno.test({
    name: `fusedDense() on ${label} matches the composite ops to second order`,
    ignore: native === "on" && NATIVE_SKIP !== false,
    fn: () =>
      onBackend(backend, () => {
        for (const activation of ["relu", "linear"] as const) {
          const x = randn([13, 7], 1);
          const w = randn([7, 5], 2, 0.5);
          const b = randn([5], 3, 0.3);
          const before = tf.memory().numTensors;
          const want = derivatives(composite(activation), x, w, b);
          const got = derivatives(fused(activation), x, w, b);
          assert.equal(tf.memory().numTensors, before, "no tensor left");
          assert.ok(relErr(got.value, want.value) < 1e-5, activation);
          for (let i = 0; i < 3; i++) {
            const e1 = relErr(got.first[i], want.first[i]);
            const e2 = relErr(got.second[i], want.second[i]);
            assert.ok(e1 < 1e-5, `${activation} d${i}: ${e1}`);
            assert.ok(e2 < 1e-4, `${activation} d2 ${i}: ${e2}`);
          }
          const noBias = tf.tidy(() => {
            const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor) =>
              tf.sum(fused(activation)(xx, ww, null))
            )([x, w]);
            const r = tf.grads((xx: tf.Tensor, ww: tf.Tensor) =>
              tf.sum(composite(activation)(xx, ww, null))
            )([x, w]);
            return g.map((t, i) => relErr(t.dataSync(), r[i].dataSync()));
          });
          assert.ok(Math.max(...noBias) < 1e-5, `${activation} no bias`);
          tf.dispose([x, w, b]);
        }
      }, native),
  });
}

/** The kernels one gradient of a layer's output runs. */
async function kernelsOf(layer: tfl.layers.Layer, x: tf.Tensor) {
  const info = await tf.profile(() =>
    tf.grad((t: tf.Tensor) => tf.sum(layer.apply(t) as tf.Tensor))(x)
  );
  return info.kernelNames;
}

Deno.test("Dense layers use the kernel for linear and ReLU, their own code otherwise", async () => {
  await onBackend("wasm", async () => {
    const x = randn([4, 6], 5);
    for (const activation of ["relu", "linear", "tanh"] as const) {
      const layer = tfl.layers.dense({ units: 3, activation });
      layer.apply(x);
      const names = await kernelsOf(layer, x);
      assert.equal(names.includes(DENSE), activation !== "tanh", activation);
      const [w, b] = layer.getWeights();
      const want = tf.tidy(() => {
        const z = tf.add(tf.matMul(x, w), b);
        return (activation === "relu"
          ? tf.relu(z)
          : activation === "tanh"
          ? tf.tanh(z)
          : z).dataSync();
      });
      const got = tf.tidy(() => (layer.apply(x) as tf.Tensor).dataSync());
      assert.ok(relErr(got, want) < 1e-6, activation);
      layer.dispose();
    }
    // A rank-3 input is not a B x K matrix: the layer's own code runs it.
    const seq = randn([2, 3, 6], 6);
    const layer = tfl.layers.dense({ units: 3, activation: "relu" });
    const out = layer.apply(seq) as tf.Tensor;
    assert.deepEqual(out.shape, [2, 3, 3]);
    assert.equal((await kernelsOf(layer, seq)).includes(DENSE), false);
    tf.dispose([x, seq, out]);
    layer.dispose();
  });
});

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`the ReLU backward kernel on ${backend} is dy * step(y) bit for bit`, async () => {
    await onBackend(backend, () => {
      for (const n of [1, 6, 64, 1023]) {
        // Zeros of both signs, NaN, infinities and a denormal among
        // ordinary values, in every lane of the SIMD groups.
        const special = [0, -0, NaN, Infinity, -Infinity, 1e-40];
        const y = Float32Array.from(
          { length: n },
          (_, i) => i % 9 < 6 ? special[i % 9] : i - n / 2,
        );
        const dy = Float32Array.from(
          { length: n },
          (_, i) => i % 7 < 3 ? [NaN, -0, Infinity][i % 7] : (i % 5) - 2.5,
        );
        const [yt, dt] = [tf.tensor1d(y), tf.tensor1d(dy)];
        const got = tf.tidy(() =>
          (tf.engine().runKernel(
            RELU_BACKWARD,
            { dy: dt, y: yt },
            {},
          ) as tf.Tensor)
            .dataSync()
        );
        const want = tf.tidy(() => tf.mul(dt, tf.step(yt)).dataSync());
        assert.deepEqual(got, want, `n ${n}`);
        tf.dispose([yt, dt]);
      }
    });
  });
}
