import assert from "node:assert/strict";
import { type LayersModel, tf, tfl } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { checkOnnx } from "./check.ts";
import { toOnnx } from "./convert.ts";
import { verifyOnnx } from "./verify.ts";
import { assertRoundTrip, randomizeWeights } from "./_testing.ts";

await useBackend("cpu");

const L = tfl.layers;
type AnyLayer = tfl.layers.Layer;

/** A Sequential model on an image input of shape [5, 6, 3]. */
function image(...layers: AnyLayer[]): LayersModel {
  const input = L.inputLayer({ inputShape: [5, 6, 3] });
  const model = tfl.sequential({ layers: [input, ...layers] });
  randomizeWeights(model);
  return model;
}

/** A Sequential model on a vector input of length 7. */
function vector(...layers: AnyLayer[]): LayersModel {
  const input = L.inputLayer({ inputShape: [7] });
  const model = tfl.sequential({ layers: [input, ...layers] });
  randomizeWeights(model);
  return model;
}

type Merge = tfl.layers.Layer;

/** Two conv branches of an image input, merged, then a 1x1 conv. */
function branches(merge: Merge): LayersModel {
  const input = tfl.input({ shape: [5, 6, 3] });
  const conv = () => L.conv2d({ filters: 4, kernelSize: 3, padding: "same" });
  const a = conv().apply(input) as tfl.SymbolicTensor;
  const b = conv().apply(input) as tfl.SymbolicTensor;
  const merged = merge.apply([a, b, input.shape[3] === 4 ? input : a]);
  const out = L.conv2d({ filters: 2, kernelSize: 1 }).apply(merged);
  const model = tfl.model({
    inputs: input,
    outputs: out as tfl.SymbolicTensor,
  });
  randomizeWeights(model);
  return model;
}

const ACTIVATIONS = [
  "linear",
  "relu",
  "relu6",
  "elu",
  "selu",
  "sigmoid",
  "hardSigmoid",
  "tanh",
  "softplus",
  "softsign",
  "softmax",
] as const;

const CASES: Record<string, () => LayersModel> = {
  "Dense": () => vector(L.dense({ units: 4 })),
  "Dense without bias": () => vector(L.dense({ units: 4, useBias: false })),
  "Dense on a rank-4 input": () => image(L.dense({ units: 2 })),
  "Conv2D valid": () => image(L.conv2d({ filters: 4, kernelSize: 3 })),
  "Conv2D same, stride 2": () =>
    image(L.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: "same" })),
  "Conv2D same, dilation 2": () =>
    image(
      L.conv2d({ filters: 2, kernelSize: 3, dilationRate: 2, padding: "same" }),
    ),
  "Conv2D valid, dilation 2": () =>
    image(L.conv2d({ filters: 2, kernelSize: 2, dilationRate: 2 })),
  "Conv2D non-square kernel and strides": () =>
    image(
      L.conv2d({
        filters: 3,
        kernelSize: [3, 2],
        strides: [2, 1],
        padding: "same",
      }),
    ),
  "Conv2D without bias, fused relu": () =>
    image(
      L.conv2d({
        filters: 4,
        kernelSize: 1,
        useBias: false,
        activation: "relu",
      }),
    ),
  "Conv2D with fused softmax (channel axis)": () =>
    image(L.conv2d({ filters: 3, kernelSize: 3, activation: "softmax" })),
  "BatchNormalization after Conv2D": () =>
    image(L.conv2d({ filters: 4, kernelSize: 3 }), L.batchNormalization({})),
  "BatchNormalization on vectors, no scale or center": () =>
    vector(
      L.dense({ units: 5 }),
      L.batchNormalization({ scale: false, center: false, epsilon: 0.01 }),
    ),
  "BatchNormalization on vectors": () =>
    vector(L.dense({ units: 5 }), L.batchNormalization({})),
  "ReLU layer": () => image(L.reLU({})),
  "ReLU layer with maxValue": () =>
    vector(L.dense({ units: 6 }), L.reLU({ maxValue: 0.4 })),
  "Softmax layer": () => vector(L.dense({ units: 4 }), L.softmax({})),
  "ELU layer": () => image(L.elu({})),
  "LeakyReLU layer": () => image(L.leakyReLU({ alpha: 0.1 })),
  "MaxPooling2D valid": () => image(L.maxPooling2d({ poolSize: 2 })),
  "MaxPooling2D same, stride 2": () =>
    image(L.maxPooling2d({ poolSize: 3, strides: 2, padding: "same" })),
  "AveragePooling2D valid, stride 1": () =>
    image(L.averagePooling2d({ poolSize: 2, strides: 1 })),
  "AveragePooling2D same (padding left out of the mean)": () =>
    image(L.averagePooling2d({ poolSize: 3, strides: 2, padding: "same" })),
  "GlobalAveragePooling2D": () =>
    image(
      L.conv2d({ filters: 3, kernelSize: 3 }),
      L.globalAveragePooling2d({}),
    ),
  "GlobalMaxPooling2D": () => image(L.globalMaxPooling2d({})),
  "Flatten after Conv2D keeps NHWC order": () =>
    image(
      L.conv2d({ filters: 3, kernelSize: 2 }),
      L.flatten(),
      L.dense({ units: 3 }),
    ),
  "Flatten of the input": () => image(L.flatten()),
  "Dropout is the identity": () =>
    vector(L.dense({ units: 3 }), L.dropout({ rate: 0.5 })),
  "ZeroPadding2D": () =>
    image(
      L.zeroPadding2d({ padding: [[1, 2], [0, 1]] }),
      L.conv2d({ filters: 2, kernelSize: 3 }),
    ),
  "Reshape from a vector to an image": () =>
    vector(
      L.dense({ units: 48 }),
      L.reshape({ targetShape: [4, 4, 3] }),
      L.conv2d({ filters: 2, kernelSize: 3 }),
    ),
  "Reshape of a conv output with -1": () =>
    image(
      L.conv2d({ filters: 2, kernelSize: 1 }),
      L.reshape({ targetShape: [-1, 2] }),
    ),
  "DepthwiseConv2D same, stride 2, multiplier 2, relu": () =>
    image(
      L.depthwiseConv2d({
        kernelSize: 3,
        strides: 2,
        depthMultiplier: 2,
        padding: "same",
        activation: "relu",
      }),
    ),
  "DepthwiseConv2D valid, no bias": () =>
    image(L.depthwiseConv2d({ kernelSize: 2, useBias: false })),
  "Add of three conv branches": () => branches(L.add({})),
  "Multiply of conv branches": () => branches(L.multiply({})),
  "Average of conv branches": () => branches(L.average({})),
  "Maximum of conv branches": () => branches(L.maximum({})),
  "Minimum of conv branches": () => branches(L.minimum({})),
  "Concatenate of conv branches on channels": () => branches(L.concatenate({})),
  "Concatenate of conv branches on width": () =>
    branches(L.concatenate({ axis: 2 })),
};

for (const activation of ACTIVATIONS) {
  CASES[`Dense with activation ${activation}`] = () =>
    vector(L.dense({ units: 4, activation }));
  CASES[`Activation layer ${activation} on a conv output`] = () =>
    image(
      L.conv2d({ filters: 3, kernelSize: 1 }),
      L.activation({ activation }),
    );
}

for (const [name, make] of Object.entries(CASES)) {
  Deno.test(`toOnnx() exports ${name} as ORT reproduces it`, async () => {
    await assertRoundTrip(make());
  });
}

Deno.test("toOnnx() exports conv layers with NCHW inputs", async () => {
  await assertRoundTrip(CASES["Conv2D same, stride 2"](), {
    inputLayout: "nchw",
  });
  await assertRoundTrip(CASES["Flatten after Conv2D keeps NHWC order"](), {
    inputLayout: "nchw",
  });
});

Deno.test("toOnnx() exports convs on images of unknown size", async () => {
  const model = tfl.sequential({
    layers: [
      L.conv2d({
        inputShape: [null, null, 3],
        filters: 4,
        kernelSize: 3,
        strides: 2,
        padding: "same",
      }),
      L.depthwiseConv2d({ kernelSize: 3, padding: "same" }),
      L.maxPooling2d({ poolSize: 3, strides: 2, padding: "same" }),
      L.globalAveragePooling2d({}),
      L.dense({ units: 3 }),
    ],
  });
  randomizeWeights(model);
  const bytes = toOnnx(model);
  assert.deepEqual(checkOnnx(bytes), []);
  for (const shape of [[2, 7, 9, 3], [1, 12, 5, 3]]) {
    const sample = tf.randomNormal(shape, 0, 1, "float32", 3);
    const result = await verifyOnnx(model, bytes, { sample });
    assert.ok(result.passed, `${shape}: ${result.maxRelDiff}`);
    sample.dispose();
  }
});

Deno.test("toOnnx() rejects what ONNX Runtime or tfjs cannot match", () => {
  const dilatedSame = tfl.sequential({
    layers: [
      L.conv2d({
        inputShape: [null, null, 3],
        filters: 2,
        kernelSize: 3,
        dilationRate: 2,
        padding: "same",
      }),
    ],
  });
  assert.throws(() => toOnnx(dilatedSame), /"same" padding with dilation/);
  const dilatedDepthwise = image(
    L.depthwiseConv2d({ kernelSize: 2, dilationRate: 2 }),
  );
  assert.throws(
    () => toOnnx(dilatedDepthwise),
    /DepthwiseConv2D\) to ONNX: dilationRate 2,2/,
  );
});
