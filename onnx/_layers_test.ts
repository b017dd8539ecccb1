import { type LayersModel, tfl } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
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
