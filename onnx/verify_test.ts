import assert from "node:assert/strict";
import { type LayersModel, tf, tfl } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { resnet } from "../models/mod.ts";
import { toOnnx } from "./convert.ts";
import { verifyOnnx } from "./verify.ts";

// The project's default backend: verification must hold there too.
await useBackend("wasm");

Deno.test("verifyOnnx() matches a ResNet on the wasm backend", async () => {
  const model = resnet({ inputShape: [16, 16, 3], width: 4, seed: 1 });
  for (const inputLayout of ["nhwc", "nchw"] as const) {
    const bytes = toOnnx(model, { inputLayout });
    const result = await verifyOnnx(model, bytes, { inputLayout });
    assert.ok(result.passed, `${inputLayout}: ${result.maxRelDiff}`);
    assert.ok(result.maxAbsDiff < 1e-4);
  }
  model.dispose();
});

function mlp(): LayersModel {
  return tfl.sequential({
    layers: [tfl.layers.dense({ units: 2, inputShape: [3] })],
  });
}

Deno.test("verifyOnnx() never passes NaN", async () => {
  const model = mlp();
  const bytes = toOnnx(model);
  const predict = model.predict.bind(model);
  model.predict = (x, args) =>
    tf.tidy(() => tf.mul(predict(x, args) as tf.Tensor, NaN));
  const result = await verifyOnnx(model, bytes);
  assert.equal(result.passed, false);
  assert.ok(Number.isNaN(result.maxRelDiff));
});

Deno.test("verifyOnnx() measures relative to max(|tfjs|, 1)", async () => {
  // ONNX outputs the bias [0.5, -3]; tfjs is made to say [0.502, -3.006].
  const model = mlp();
  model.layers[0].setWeights([tf.zeros([3, 2]), tf.tensor1d([0.5, -3])]);
  const bytes = toOnnx(model);
  model.predict = () =>
    tf.tidy(() => tf.tile(tf.tensor2d([[0.502, -3.006]]), [4, 1]));
  const result = await verifyOnnx(model, bytes, { tolerance: 1e-3 });
  assert.ok(Math.abs(result.maxAbsDiff - 0.006) < 1e-6);
  // max(0.002 / 1, 0.006 / 3.006)
  assert.ok(Math.abs(result.maxRelDiff - 0.002) < 1e-6);
  assert.equal(result.passed, false);
});

Deno.test("verifyOnnx() explains a sample it cannot use or make", async () => {
  const model = mlp();
  const bytes = toOnnx(model);
  const x = tf.zeros([2, 3]);
  await assert.rejects(
    verifyOnnx(model, bytes, { sample: [x, x] }),
    /the sample has 2 tensors, the model 1 inputs/,
  );
  x.dispose();
  const open = tfl.sequential({
    layers: [
      tfl.layers.globalAveragePooling2d({ inputShape: [null, null, 2] }),
    ],
  });
  await assert.rejects(
    verifyOnnx(open, toOnnx(open)),
    /Cannot make a sample for input .* has unknown dimensions; pass/,
  );
});
