import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import "./mod.ts";
import { crossEntropy, logSoftmax, valueAndGrads } from "../functional.ts";
import { normals, onBackend, relErr } from "./_test_util.ts";
import {
  correctCount,
  CROSS_ENTROPY,
  CROSS_ENTROPY_GRAD,
  fusedCrossEntropy,
} from "./cross_entropy.ts";

/** -log softmax(z)_y and its gradient by the composite ops. */
function composite(z: tf.Tensor, y: tf.Tensor) {
  return tf.tidy(() => {
    const classes = z.shape[1]!;
    const f = (t: tf.Tensor) =>
      tf.neg(tf.sum(tf.mul(tf.oneHot(y, classes), logSoftmax(t)), -1));
    const w = tf.linspace(0.5, 2, z.shape[0]!);
    const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), w)))(z);
    return { loss: f(z).dataSync(), grad: grad.dataSync() };
  });
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`fusedCrossEntropy() on ${backend} matches the composite ops, loss and gradient, extreme logits included`, async () => {
    await onBackend(backend, async () => {
      const [rows, classes] = [37, 10];
      const values = normals(rows * classes, 3, 4);
      values[5] = 80; // a confident row: the shift by the maximum matters
      values[classes + 2] = -90;
      const z = tf.variable(tf.tensor(values, [rows, classes]));
      const y = tf.tensor1d(
        Array.from({ length: rows }, (_, i) => (i * 7) % classes),
        "int32",
      );
      const w = tf.linspace(0.5, 2, rows);
      const before = tf.memory().numTensors;
      const fused = tf.tidy(() => {
        const loss = fusedCrossEntropy(z, y)!.dataSync();
        const grad = tf.grad((t: tf.Tensor) =>
          tf.sum(tf.mul(fusedCrossEntropy(t, y)!, w))
        )(z).dataSync();
        return { loss, grad };
      });
      assert.equal(tf.memory().numTensors, before, "no tensor leaks");
      const reference = composite(z, y);
      assert.ok(relErr(fused.loss, reference.loss) < 1e-6);
      assert.ok(relErr(fused.grad, reference.grad) < 1e-5);

      // crossEntropy() takes this path under one gradient.
      const { kernels } = await tf.profile(() =>
        tf.tidy(() => {
          valueAndGrads(() => crossEntropy(z, y) as tf.Scalar, [z]);
        })
      );
      const names = kernels.map((k) => k.name);
      assert.ok(names.includes(CROSS_ENTROPY));
      assert.ok(names.includes(CROSS_ENTROPY_GRAD));
      tf.dispose([z, y, w]);
    });
  });
}

Deno.test("crossEntropy() runs the fused kernel under a second gradient too, and its Hessian is exact", async () => {
  await onBackend("wasm", () => {
    // Softmax cross-entropy of logits z: H = diag(p) - p p^T per row, / B.
    const z = tf.variable(tf.tensor2d([[0.3, -1.2, 2.0], [1.0, 0.0, -0.5]]));
    const y = tf.tensor1d([2, 0], "int32");
    const v = tf.tensor2d([[1, 0.5, -1], [0, 2, 1]]);
    const hv = tf.tidy(() => {
      const { grads } = valueAndGrads(() => {
        const inner = valueAndGrads(() => {
          const fused = fusedCrossEntropy(z, y);
          assert.ok(fused !== undefined, "the kernel runs at depth 2");
          fused.dispose();
          return crossEntropy(z, y) as tf.Scalar;
        }, [z]);
        return tf.sum(tf.mul(inner.grads[0], v)) as tf.Scalar;
      }, [z]);
      return grads[0].arraySync() as number[][];
    });
    const zs = z.arraySync() as number[][];
    const vs = v.arraySync() as number[][];
    zs.forEach((row, r) => {
      const e = row.map(Math.exp);
      const s = e.reduce((a, b) => a + b, 0);
      const p = e.map((x) => x / s);
      const pv = p.reduce((a, pi, i) => a + pi * vs[r][i], 0);
      p.forEach((pi, i) => {
        const expected = (pi * vs[r][i] - pi * pv) / zs.length;
        assert.ok(Math.abs(hv[r][i] - expected) < 1e-6, `${r} ${i}`);
      });
    });
    tf.dispose([z, y, v]);
  });
});

Deno.test("fusedCrossEntropy() refuses a label outside the classes and shapes it does not handle", async () => {
  await onBackend("cpu", () => {
    const z = tf.zeros([2, 3]);
    assert.throws(
      () => fusedCrossEntropy(z, tf.tensor1d([0, 3], "int32")),
      /Cannot compute the cross-entropy: label "3" is outside 0..2/,
    );
    assert.equal(
      fusedCrossEntropy(tf.zeros([2, 3, 1]), tf.zeros([2])),
      undefined,
    );
    assert.equal(fusedCrossEntropy(z, tf.zeros([3])), undefined);
    tf.dispose(z);
  });
});

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`correctCount() on ${backend} counts argMax == label, ties to the first maximum`, async () => {
    await onBackend(backend, () => {
      const [rows, classes] = [41, 7];
      // Values on a coarse grid, so many rows have tied maxima.
      const values = normals(rows * classes, 9).map((v) => Math.round(v));
      values[3 * classes + 2] = NaN; // a NaN entry: never above anything
      const z = tf.tensor2d(values, [rows, classes]);
      const y = tf.tensor1d(
        Array.from({ length: rows }, (_, i) => (i * 3) % classes),
        "int32",
      );
      const before = tf.memory().numTensors;
      const got = tf.tidy(() => correctCount(z, y).dataSync()[0]);
      assert.equal(tf.memory().numTensors, before);
      const want = tf.tidy(() =>
        tf.sum(tf.cast(tf.equal(tf.argMax(z, -1), y), "float32"))
          .dataSync()[0]
      );
      assert.equal(got, want);
      assert.ok(got > 0 && got < rows, `a count that can be wrong: ${got}`);
      const floats = tf.tidy(() =>
        correctCount(z, tf.cast(y, "float32")).dataSync()[0]
      );
      assert.equal(floats, want, "float labels are cast as tfjs casts them");
      tf.dispose([z, y]);
    });
  });
}

/**
 * h(z) = ||grad_z sum_r t_r(z) CE_r(z)||^2 with row weights t that depend
 * on z, so the backward pass of the inner gradient differentiates through
 * the cross-entropy gradient's dy as well as its logits; and the gradient
 * of grad h . v, one order higher.
 */
function weightedOrders(
  ce: (t: tf.Tensor, y: tf.Tensor) => tf.Tensor,
  z: tf.Tensor,
  y: tf.Tensor,
  v: tf.Tensor,
) {
  const h = (t: tf.Tensor) => {
    const [g] = tf.grads((s: tf.Tensor) =>
      tf.sum(tf.mul(tf.tanh(tf.sum(s, 1)), ce(s, y)))
    )([t]);
    return tf.sum(tf.square(g));
  };
  return tf.tidy(() => {
    const [second] = tf.grads(h)([z]);
    const [third] = tf.grads((t: tf.Tensor) => {
      const [gh] = tf.grads(h)([t]);
      return tf.sum(tf.mul(gh, v));
    })([z]);
    return [second.dataSync(), third.dataSync()];
  });
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`fusedCrossEntropy() on ${backend}: second and third derivatives through a dy that depends on the logits`, async () => {
    await onBackend(backend, () => {
      const [rows, classes] = [6, 5];
      const z = tf.tensor2d(normals(rows * classes, 21, 1.5), [rows, classes]);
      const v = tf.tensor2d(normals(rows * classes, 22), [rows, classes]);
      const y = tf.tensor1d([0, 4, 2, 1, 3, 2], "int32");
      const composite = (t: tf.Tensor, labels: tf.Tensor) =>
        tf.neg(
          tf.sum(
            tf.mul(tf.oneHot(labels as tf.Tensor1D, classes), logSoftmax(t)),
            -1,
          ),
        );
      const before = tf.memory().numTensors;
      const got = weightedOrders((t, l) => fusedCrossEntropy(t, l)!, z, y, v);
      const want = weightedOrders(composite, z, y, v);
      assert.equal(tf.memory().numTensors, before, "no tensor left");
      assert.ok(
        relErr(got[0], want[0]) < 1e-5,
        `second: ${relErr(got[0], want[0])}`,
      );
      assert.ok(
        relErr(got[1], want[1]) < 1e-4,
        `third: ${relErr(got[1], want[1])}`,
      );
      tf.dispose([z, v, y]);
    });
  });
}
