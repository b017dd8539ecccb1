import assert from "node:assert/strict";
import { tf, tfl } from "../tf.ts";
import "./mod.ts";
import { valueAndGrads } from "../functional.ts";
import { loadDnnl } from "../native/dnnl.ts";
import { normals, onBackend, relErr } from "./_test_util.ts";
import {
  BATCH_NORM_TRAINING,
  BATCH_NORM_TRAINING_GRAD,
  batchNormTraining,
  canFuseBatchNorm,
} from "./batch_norm_training.ts";

const dnnl = loadDnnl();
const skip = dnnl.available ? "" : ` (skipped: ${dnnl.reason})`;

/** A batch-norm layer on `shape` with a nonlinear loss, built fresh. */
function bnModel(shape: number[]): tfl.LayersModel {
  const input = tfl.input({ shape: shape.slice(1) });
  const bn = tfl.layers.batchNormalization({
    momentum: 0.8,
    gammaInitializer: tfl.initializers.randomNormal({ mean: 1, seed: 3 }),
    betaInitializer: tfl.initializers.randomNormal({ stddev: 0.5, seed: 4 }),
  }).apply(input) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: bn });
}

interface Run {
  loss: Float32Array;
  grads: Float32Array[];
  moving: Float32Array[];
  kernels: string[];
}

/**
 * The loss sum(tanh(bn(x)) * w), its gradients for gamma and beta and
 * with respect to x, and the moving statistics after one training call.
 */
async function train(shape: number[], native: "on" | "off"): Promise<Run> {
  return await onBackend("wasm", async () => {
    const model = bnModel(shape);
    const size = shape.reduce((a, b) => a * b, 1);
    const x = tf.variable(tf.tensor(normals(size, 1, 2), shape));
    const w = tf.tensor(normals(size, 2), shape);
    const params = [
      ...model.trainableWeights.map((v) => v.read() as tf.Variable),
      x,
    ];
    let out: Run | undefined;
    const { kernels } = await tf.profile(() => {
      const { value, grads } = valueAndGrads(
        () =>
          tf.sum(
            tf.mul(tf.tanh(model.apply(x, { training: true }) as tf.Tensor), w),
          ) as tf.Scalar,
        params,
      );
      out = {
        loss: value.dataSync() as Float32Array,
        grads: grads.map((g) => g.dataSync() as Float32Array),
        moving: model.nonTrainableWeights.map((v) =>
          v.read().dataSync() as Float32Array
        ),
        kernels: [],
      };
      tf.dispose([value, ...grads]);
    });
    out!.kernels = kernels.map((k) => k.name);
    tf.dispose([x, w]);
    model.dispose();
    return out!;
  }, native);
}

Deno.test({
  name: "a training batch-norm layer runs fused with the native pack and " +
    `matches the layer's own ops: output, gradients, moving statistics${skip}`,
  ignore: !dnnl.available,
  fn: async () => {
    for (const shape of [[6, 5, 4, 3], [16, 8], [4, 7, 5]]) {
      const fused = await train(shape, "on");
      const composite = await train(shape, "off");
      assert.ok(fused.kernels.includes(BATCH_NORM_TRAINING), `${shape}`);
      assert.ok(fused.kernels.includes(BATCH_NORM_TRAINING_GRAD), `${shape}`);
      assert.ok(!composite.kernels.includes(BATCH_NORM_TRAINING));
      assert.ok(relErr(fused.loss, composite.loss) < 1e-5, `${shape} loss`);
      fused.grads.forEach((g, i) =>
        assert.ok(
          relErr(g, composite.grads[i]) < 1e-4,
          `${shape}: gradient ${i}, ${relErr(g, composite.grads[i])}`,
        )
      );
      fused.moving.forEach((m, i) =>
        assert.ok(relErr(m, composite.moving[i]) < 1e-5, `${shape}: ${i}`)
      );
    }
  },
});

Deno.test({
  name: "batchNormTraining() runs fused under one gradient and not under " +
    `two, where its gradient could not be differentiated${skip}`,
  ignore: !dnnl.available,
  fn: async () => {
    await onBackend("wasm", () => {
      const x = tf.tensor(normals(2 * 3 * 3 * 4, 5), [2, 3, 3, 4]);
      const gamma = tf.variable(tf.ones([4]));
      assert.equal(canFuseBatchNorm(x), true);
      const depths: boolean[] = [];
      const f = () => {
        depths.push(canFuseBatchNorm(x));
        return tf.sum(tf.mul(x, tf.square(gamma))) as tf.Scalar;
      };
      tf.tidy(() => {
        valueAndGrads(f, [gamma]);
        valueAndGrads(
          () => tf.sum(valueAndGrads(f, [gamma]).grads[0]) as tf.Scalar,
          [gamma],
        );
      });
      assert.deepEqual(depths, [true, false]);
      assert.equal(canFuseBatchNorm(tf.cast(x, "int32")), false);
      tf.dispose([x, gamma]);
    }, "on");
    await onBackend("wasm", () => {
      const x = tf.ones([2, 4]);
      assert.equal(canFuseBatchNorm(x), false, "no kernels without the pack");
      assert.equal(batchNormTraining(x, null, null, 1e-3), undefined);
      x.dispose();
    }, "off");
  },
});

Deno.test({
  name: "batchNormTraining() normalizes each channel with the batch's " +
    `mean and biased variance, without gamma or beta too${skip}`,
  ignore: !dnnl.available,
  fn: async () => {
    await onBackend("wasm", () => {
      const [rows, channels] = [50, 3];
      const values = normals(rows * channels, 7, 3);
      const x = tf.tensor(values, [rows, channels]);
      const before = tf.memory().numTensors;
      const out = batchNormTraining(x, null, null, 1e-3)!;
      const y = out.y.dataSync();
      const mean = out.mean.dataSync();
      const variance = out.variance.dataSync();
      for (let c = 0; c < channels; c++) {
        let m = 0;
        for (let r = 0; r < rows; r++) m += values[r * channels + c] / rows;
        let v = 0;
        for (let r = 0; r < rows; r++) {
          v += (values[r * channels + c] - m) ** 2 / rows;
        }
        assert.ok(Math.abs(mean[c] - m) < 1e-5);
        assert.ok(Math.abs(variance[c] - v) < 1e-4 * v);
        for (let r = 0; r < rows; r++) {
          const expected = (values[r * channels + c] - m) / Math.sqrt(v + 1e-3);
          assert.ok(Math.abs(y[r * channels + c] - expected) < 1e-5);
        }
      }
      tf.dispose([out.y, out.mean, out.variance]);
      assert.equal(tf.memory().numTensors, before, "no tensor leaks");
      x.dispose();
    }, "on");
  },
});
