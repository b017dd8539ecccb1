/**
 * Tiny tfjs-layers models, one per layer type fisherlab must differentiate
 * twice, with seeded weights and data: the fixtures of the gradient tests.
 *
 * @module
 */
import { tf, tfl } from "../tf.ts";
import type { LayersModel } from "../tf.ts";
import { pickAtArgmax } from "./gradients.ts";
import { normals, randn } from "./_test_util.ts";

type SymbolicTensor = ReturnType<typeof tfl.input>;
type Layer = tfl.layers.Layer;

/** One test model: its input shape (with batch) and a builder. */
export interface LayerCase {
  name: string;
  input: [number, number, number, number];
  classes: number;
  build: (x: SymbolicTensor) => SymbolicTensor;
}

const conv = (filters: number, strides: number, padding: "same" | "valid") =>
  tfl.layers.conv2d({
    filters,
    kernelSize: 3,
    strides,
    padding,
    activation: "relu",
  });

const head = (x: SymbolicTensor, classes: number) =>
  tfl.layers.dense({ units: classes }).apply(
    tfl.layers.flatten().apply(x),
  ) as SymbolicTensor;

const chain = (x: SymbolicTensor, layers: Layer[]) =>
  layers.reduce((t, l) => l.apply(t) as SymbolicTensor, x);

/** The layer types of the brief, each in a model small enough for FD. */
export const LAYER_CASES: LayerCase[] = [
  {
    name: "dense",
    input: [3, 2, 2, 2],
    classes: 3,
    build: (x) =>
      chain(tfl.layers.flatten().apply(x) as SymbolicTensor, [
        tfl.layers.dense({ units: 4, activation: "tanh" }),
        tfl.layers.dense({ units: 3 }),
      ]),
  },
  {
    name: "dense + relu",
    input: [3, 2, 2, 2],
    classes: 3,
    build: (x) =>
      chain(tfl.layers.flatten().apply(x) as SymbolicTensor, [
        tfl.layers.dense({ units: 5, activation: "relu" }),
        tfl.layers.dense({ units: 3 }),
      ]),
  },
  ...([[1, "same"], [1, "valid"], [2, "same"], [2, "valid"]] as const).map((
    [s, p],
  ): LayerCase => ({
    name: `conv2d stride ${s} ${p}`,
    input: [2, 6, 5, 2],
    classes: 3,
    build: (x) => head(conv(3, s, p).apply(x) as SymbolicTensor, 3),
  })),
  {
    name: "depthwise conv2d (multiplier 2) same",
    input: [2, 5, 5, 2],
    classes: 3,
    build: (x) =>
      head(
        tfl.layers.depthwiseConv2d({
          kernelSize: 3,
          depthMultiplier: 2,
          padding: "same",
          activation: "relu",
        }).apply(x) as SymbolicTensor,
        3,
      ),
  },
  {
    name: "max pooling",
    input: [2, 6, 6, 2],
    classes: 3,
    build: (x) =>
      head(chain(x, [conv(3, 1, "same"), tfl.layers.maxPooling2d({})]), 3),
  },
  {
    name: "max pooling 3x3 stride 2 same (overlapping)",
    input: [2, 5, 5, 1],
    classes: 3,
    build: (x) =>
      head(
        chain(x, [
          conv(2, 1, "same"),
          tfl.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: "same" }),
        ]),
        3,
      ),
  },
  {
    name: "average pooling",
    input: [2, 6, 6, 2],
    classes: 3,
    build: (x) =>
      head(chain(x, [conv(3, 1, "same"), tfl.layers.averagePooling2d({})]), 3),
  },
  {
    name: "average pooling 3x3 stride 1 same",
    input: [2, 4, 4, 1],
    classes: 3,
    build: (x) =>
      head(
        chain(x, [
          conv(2, 1, "same"),
          tfl.layers.averagePooling2d({
            poolSize: 3,
            strides: 1,
            padding: "same",
          }),
        ]),
        3,
      ),
  },
  {
    name: "global average pooling",
    input: [3, 5, 5, 2],
    classes: 3,
    build: (x) =>
      chain(x, [
        conv(4, 1, "valid"),
        tfl.layers.globalAveragePooling2d({}),
        tfl.layers.dense({ units: 3 }),
      ]),
  },
  {
    name: "batch norm (training) + relu",
    input: [4, 4, 4, 2],
    classes: 3,
    build: (x) =>
      head(
        chain(x, [
          tfl.layers.conv2d({ filters: 3, kernelSize: 3, padding: "same" }),
          tfl.layers.batchNormalization({}),
          tfl.layers.reLU(),
        ]),
        3,
      ),
  },
  {
    name: "residual add",
    input: [2, 4, 4, 2],
    classes: 3,
    build: (x) => {
      const h = chain(x, [
        conv(2, 1, "same"),
        tfl.layers.conv2d({ filters: 2, kernelSize: 3, padding: "same" }),
      ]);
      const sum = tfl.layers.add().apply([x, h]) as SymbolicTensor;
      return head(tfl.layers.reLU().apply(sum) as SymbolicTensor, 3);
    },
  },
];

/** A built case: the model, its data, and a probe of its kinks. */
export interface Fixture {
  model: LayersModel;
  x: tf.Tensor;
  y: tf.Tensor;
  /** ReLU on/off pattern and max-pool argmaxes, to detect crossed kinks. */
  kinks: () => Promise<string>;
}

/** Builds `c` on the active backend with weights and data from `seed`. */
export function buildFixture(c: LayerCase, seed: number): Fixture {
  const input = tfl.input({ shape: c.input.slice(1) });
  const model = tfl.model({ inputs: input, outputs: c.build(input) });
  model.trainableWeights.forEach((w, i) => {
    const shape = w.shape as number[];
    const fanIn = shape.length > 1
      ? shape.slice(0, -1).reduce((a, b) => a * b, 1)
      : 0;
    const isGamma = /gamma/.test(w.originalName);
    const values = normals(
      shape.reduce((a, b) => a * b, 1),
      seed + 17 * i,
      fanIn > 0 ? 1.3 / Math.sqrt(fanIn) : 0.2,
    );
    if (isGamma) values.forEach((v, k) => values[k] = 1 + v);
    w.write(tf.tensor(values, shape));
  });
  const x = randn(c.input, seed + 1000);
  const labels = Array.from({ length: c.input[0] }, (_, i) => i % c.classes);
  const y = tf.tensor1d(labels, "int32");
  return { model, x, y, kinks: () => kinkSignature(model, x) };
}

async function kinkSignature(model: LayersModel, x: tf.Tensor) {
  const probes: { layer: Layer; pooled: boolean }[] = [];
  for (const layer of model.layers) {
    const name = layer.getClassName();
    const config = layer.getConfig() as { activation?: string };
    if (name === "ReLU" || config.activation === "relu") {
      probes.push({ layer, pooled: false });
    } else if (name === "MaxPooling2D") {
      probes.push({ layer, pooled: true });
    }
  }
  if (probes.length === 0) return "";
  const tensors = probes.map((p) =>
    (p.pooled ? p.layer.input : p.layer.output) as SymbolicTensor
  );
  const outputs = [...new Set(tensors)];
  const probe = tfl.model({ inputs: model.inputs, outputs });
  const parts = tf.tidy(() => {
    const values = [probe.apply(x, { training: true })].flat() as tf.Tensor[];
    return tensors.map((t, i) => {
      const v = values[outputs.indexOf(t)];
      if (!probes[i].pooled) return tf.cast(tf.greater(v, 0), "int32");
      const layer = probes[i].layer as unknown as {
        poolSize: [number, number];
        strides: [number, number];
        padding: "same" | "valid";
      };
      const iota = tf.reshape(tf.range(0, v.size, 1, "float32"), v.shape);
      return pickAtArgmax(v, iota, {
        filterSize: layer.poolSize,
        strides: layer.strides,
        pad: layer.padding,
      });
    });
  });
  const data = await Promise.all(parts.map((p) => p.data()));
  tf.dispose(parts);
  return data.map((d) => Array.from(d).join(",")).join("|");
}
