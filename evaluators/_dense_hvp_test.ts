import assert from "node:assert/strict";
import { tf, tfl } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import {
  crossEntropy,
  forward,
  hessianVectorProduct,
  trainableParams,
} from "../core/functional.ts";
import { SeededInit } from "../models/init.ts";
import { denseChain, denseHessianVectorProduct } from "./_dense_hvp.ts";
import { lossHessian } from "./hessian_operator.ts";

type Act = "relu" | "linear" | "tanh";

function chainModel(
  widths: number[],
  acts: Act[],
  useBias = true,
): tfl.LayersModel {
  const init = new SeededInit(3);
  const model = tfl.sequential();
  model.add(tfl.layers.flatten({ inputShape: [3, 2, 1] }));
  widths.forEach((units, i) =>
    model.add(tfl.layers.dense({
      units,
      activation: acts[i],
      useBias,
      kernelInitializer: init.glorot(),
      biasInitializer: init.glorot(),
    }))
  );
  return model;
}

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** The R-operator's H v against double backprop's, for `params`. */
function compare(model: tfl.LayersModel, params: tf.Variable[]): number {
  return tf.tidy(() => {
    const x = tf.randomNormal([9, 3, 2, 1], 0, 1, "float32", 5);
    const y = tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3, 1], "int32");
    const v = params.map((p, i) =>
      tf.randomNormal(p.shape, 0, 1, "float32", 11 + i)
    );
    const chain = denseChain(model);
    assert.ok(chain, "a chain of dense layers");
    const got = denseHessianVectorProduct(chain, x, y, params, v)!;
    const want = hessianVectorProduct(
      () => crossEntropy(forward(model, x, false), y) as tf.Scalar,
      params,
      v,
    );
    assert.deepEqual(got.map((t) => t.shape), want.map((t) => t.shape));
    return Math.max(
      ...got.map((t, i) =>
        relErr(t.dataSync() as Float32Array, want[i].dataSync() as Float32Array)
      ),
    );
  });
}

for (const backend of ["cpu", "wasm"] as const) {
  Deno.test(`the R-operator's H v equals double backprop's on ${backend}`, async () => {
    await useBackend(backend);
    const cases: [number[], Act[], boolean][] = [
      [[5, 4, 4], ["relu", "relu", "linear"], true],
      [[5, 4], ["relu", "relu"], true], // a ReLU on the logits
      [[4], ["linear"], true], // softmax regression
      [[6, 4], ["linear", "linear"], false], // no biases
    ];
    for (const [widths, acts, bias] of cases) {
      const model = chainModel(widths, acts, bias);
      const all = trainableParams(model);
      const before = tf.memory().numTensors;
      const label = `${widths} ${acts} bias ${bias}`;
      assert.ok(compare(model, all) < 1e-5, `${label}: all weights`);
      // A block of the Hessian: the first kernel, or the last layer only.
      assert.ok(compare(model, [all[0]]) < 1e-5, `${label}: first kernel`);
      assert.ok(
        compare(model, all.slice(bias ? -2 : -1)) < 1e-5,
        `${label}: last layer`,
      );
      assert.equal(tf.memory().numTensors, before, `${label}: no leak`);
      model.dispose();
    }
  });
}

Deno.test("denseChain() accepts only Sequential dense chains with linear or ReLU", async () => {
  await useBackend("cpu");
  const ok = chainModel([4, 3], ["relu", "linear"]);
  assert.equal(denseChain(ok)?.length, 2);
  assert.equal(denseChain(chainModel([4, 3], ["tanh", "linear"])), undefined);
  const withInput = tfl.sequential({
    layers: [
      tfl.layers.inputLayer({ inputShape: [4] }),
      tfl.layers.dense({ units: 3, activation: "relu" }),
      tfl.layers.dense({ units: 2 }),
    ],
  });
  assert.equal(denseChain(withInput)?.length, 2, "an explicit input layer");
  const withConv = tfl.sequential({
    layers: [
      tfl.layers.conv2d({ inputShape: [3, 2, 1], filters: 2, kernelSize: 1 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3 }),
    ],
  });
  assert.equal(denseChain(withConv), undefined);
  const input = tfl.input({ shape: [4] });
  const functional = tfl.model({
    inputs: input,
    outputs: tfl.layers.dense({ units: 3 }).apply(input) as tfl.SymbolicTensor,
  });
  assert.equal(denseChain(functional), undefined);
});

Deno.test("lossHessian() of a dense chain runs the R-operator, in chunks too", async () => {
  await useBackend("wasm");
  const model = chainModel([5, 4], ["relu", "linear"]);
  const x = tf.randomNormal([10, 3, 2, 1], 0, 1, "float32", 8);
  const y = tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3, 1, 2], "int32");
  const chunked = lossHessian(model, { x, y }, { batchSize: 4 });
  const viaLoss = lossHessian(model, { x, y }, {
    batchSize: 4,
    // The same loss, given explicitly: lossHessian then double-backprops.
    loss: (z, labels) => crossEntropy(z, labels) as tf.Scalar,
  });
  const v = Float64Array.from({ length: chunked.dim }, (_, i) => Math.sin(i));
  const profile = await tf.profile(async () => {
    await chunked.apply(v);
    return [];
  });
  // Double backprop's forward runs the fused cross-entropy; the R-operator
  // takes the softmax and no gradient.
  assert.equal(profile.kernelNames.includes("FisherlabCrossEntropy"), false);
  const a = await chunked.apply(v);
  const b = await viaLoss.apply(v);
  assert.ok(relErr(Float32Array.from(a), Float32Array.from(b)) < 1e-5);
  const q = await chunked.quadratic!(v);
  let vhv = 0;
  for (let i = 0; i < v.length; i++) vhv += v[i] * b[i];
  assert.ok(Math.abs(q - vhv) < 1e-4 * Math.abs(vhv));
  chunked.dispose();
  viaLoss.dispose();
  tf.dispose([x, y]);
  model.dispose();
});
