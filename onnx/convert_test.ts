import assert from "node:assert/strict";
import { type LayersModel, tfl } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { type IValueInfoProto, onnx } from "./_proto.ts";
import { FISHERLAB_VERSION, toOnnx } from "./convert.ts";
import { readOnnxMetadata } from "./metadata.ts";
import { verifyOnnx } from "./verify.ts";
import { assertRoundTrip, randomizeWeights } from "./_testing.ts";

await useBackend("cpu");

const L = tfl.layers;
type Sym = tfl.SymbolicTensor;

function apply(layer: tfl.layers.Layer, x: Sym | Sym[]): Sym {
  return layer.apply(x) as Sym;
}

/** conv-BN-relu, conv-BN, + shortcut (1x1 conv when the shape changes). */
function residualBlock(x: Sym, filters: number, stride: number): Sym {
  let y = apply(
    L.conv2d({ filters, kernelSize: 3, strides: stride, padding: "same" }),
    x,
  );
  y = apply(L.batchNormalization({}), y);
  y = apply(L.reLU({}), y);
  y = apply(
    L.conv2d({ filters, kernelSize: 3, padding: "same", useBias: false }),
    y,
  );
  y = apply(L.batchNormalization({}), y);
  const channels = x.shape[3];
  const shortcut = stride === 1 && channels === filters ? x : apply(
    L.conv2d({ filters, kernelSize: 1, strides: stride, useBias: false }),
    x,
  );
  return apply(
    L.activation({ activation: "relu" }),
    apply(L.add({}), [
      y,
      shortcut,
    ]),
  );
}

function smallResNet(): LayersModel {
  const input = tfl.input({ shape: [12, 12, 3] });
  let x = apply(
    L.conv2d({ filters: 8, kernelSize: 3, padding: "same" }),
    input,
  );
  x = apply(L.batchNormalization({}), x);
  x = apply(L.reLU({}), x);
  x = residualBlock(x, 8, 1);
  x = residualBlock(x, 16, 2);
  x = apply(L.globalAveragePooling2d({}), x);
  const out = apply(L.dense({ units: 10, activation: "softmax" }), x);
  const model = tfl.model({ inputs: input, outputs: out });
  randomizeWeights(model, 5);
  return model;
}

function smallVgg(): LayersModel {
  const conv = (filters: number) =>
    L.conv2d({ filters, kernelSize: 3, padding: "same", activation: "relu" });
  const model = tfl.sequential({
    layers: [
      L.inputLayer({ inputShape: [16, 16, 3] }),
      conv(8),
      L.maxPooling2d({ poolSize: 2 }),
      conv(16),
      conv(16),
      L.maxPooling2d({ poolSize: 2 }),
      L.flatten(),
      L.dense({ units: 32, activation: "relu" }),
      L.dropout({ rate: 0.5 }),
      L.dense({ units: 10 }),
    ],
  });
  randomizeWeights(model, 3);
  return model;
}

function residualMlp(): LayersModel {
  const input = tfl.input({ shape: [6] });
  const h = apply(L.dense({ units: 6, activation: "tanh" }), input);
  const b = apply(L.batchNormalization({}), h);
  const sum = apply(L.add({}), [input, b, h]);
  const out = apply(L.dense({ units: 3 }), sum);
  const model = tfl.model({ inputs: input, outputs: out });
  randomizeWeights(model, 9);
  return model;
}

Deno.test("toOnnx() exports a residual MLP with Add and batch norm", async () => {
  await assertRoundTrip(residualMlp());
});

for (const layout of ["nhwc", "nchw"] as const) {
  Deno.test(`toOnnx() exports a small ResNet, ${layout} input`, async () => {
    await assertRoundTrip(smallResNet(), { inputLayout: layout });
  });
  Deno.test(`toOnnx() exports a small VGG, ${layout} input`, async () => {
    await assertRoundTrip(smallVgg(), { inputLayout: layout });
  });
}

Deno.test("toOnnx() exports models with two inputs and two outputs", async () => {
  const a = tfl.input({ shape: [4, 4, 2] });
  const b = tfl.input({ shape: [4, 4, 2] });
  const conv = L.conv2d({ filters: 2, kernelSize: 3, padding: "same" });
  const sum = apply(L.add({}), [apply(conv, a), b]);
  const pooled = apply(L.maxPooling2d({ poolSize: 2 }), sum);
  const model = tfl.model({ inputs: [a, b], outputs: [sum, pooled] });
  randomizeWeights(model);
  const bytes = toOnnx(model, { inputLayout: "nchw" });
  const graph = graphOf(bytes);
  assert.deepEqual(graph.input.map((v) => v.name), ["input_0", "input_1"]);
  assert.deepEqual(graph.output.map((v) => v.name), ["output_0", "output_1"]);
  await assertRoundTrip(model);
  await assertRoundTrip(model, { inputLayout: "nchw" });
});

function graphOf(bytes: Uint8Array) {
  const g = onnx.ModelProto.decode(bytes).graph!;
  return { input: g.input ?? [], output: g.output ?? [], node: g.node ?? [] };
}

function dims(v: IValueInfoProto): (string | number)[] {
  return v.type!.tensorType!.shape!.dim!.map((d) =>
    d.dimParam ? d.dimParam : Number(d.dimValue)
  );
}

Deno.test("toOnnx() takes NHWC by default and NCHW on request", () => {
  const model = smallVgg();
  const nhwc = graphOf(toOnnx(model));
  assert.deepEqual(dims(nhwc.input[0]), ["batch", 16, 16, 3]);
  assert.equal(nhwc.node[0].opType, "Transpose");
  const nchw = graphOf(toOnnx(model, { inputLayout: "nchw" }));
  assert.deepEqual(dims(nchw.input[0]), ["batch", 3, 16, 16]);
  assert.equal(nchw.node[0].opType, "Conv");
  assert.deepEqual(dims(nchw.output[0]), ["batch", 10]);
});

Deno.test("toOnnx() output runs on any batch size", async () => {
  const model = smallResNet();
  const bytes = toOnnx(model);
  for (const size of [1, 5]) {
    const result = await verifyOnnx(model, bytes, { sampleSize: size });
    assert.equal(result.batchSize, size);
    assert.ok(result.passed, `batch ${size}: ${result.maxRelDiff}`);
  }
});

Deno.test("toOnnx() states ir_version, opset and producer", () => {
  const decoded = onnx.ModelProto.decode(toOnnx(residualMlp(), { opset: 15 }));
  assert.equal(Number(decoded.irVersion), 8);
  assert.deepEqual(
    decoded.opsetImport.map((o) => [o.domain, Number(o.version)]),
    [["", 15]],
  );
  assert.equal(decoded.producerName, "fisherlab");
  assert.equal(decoded.producerVersion, FISHERLAB_VERSION);
  assert.throws(() => toOnnx(residualMlp(), { opset: 11 }), /opset "11"/);
});

Deno.test("toOnnx() writes metadata that reads back", () => {
  const config = { lr: 0.1, model: { name: "mlp", widths: [6, 3] } };
  const metrics = { "test/accuracy": 0.875, "train/loss": 0.25 };
  const meta = readOnnxMetadata(
    toOnnx(residualMlp(), {
      config,
      seed: 42,
      metrics,
      metadata: { note: "hi" },
    }),
  );
  assert.equal(meta.fisherlab_version, FISHERLAB_VERSION);
  assert.deepEqual(JSON.parse(meta.training_config), config);
  assert.equal(meta.seed, "42");
  assert.deepEqual(JSON.parse(meta.metrics), metrics);
  assert.equal(meta.note, "hi");
});

Deno.test("toOnnx() names an unsupported layer and lists supported ones", () => {
  const lstm = tfl.sequential({
    layers: [L.lstm({ units: 3, inputShape: [4, 2], name: "my_lstm" })],
  });
  assert.throws(() => toOnnx(lstm), (error: Error) => {
    assert.ok(error instanceof TypeError);
    assert.match(error.message, /layer "my_lstm"/);
    assert.match(error.message, /class "LSTM" is not supported/);
    assert.match(
      error.message,
      /Dense, Conv2D, DepthwiseConv2D, BatchNormalization/,
    );
    return true;
  });
  const deconv = tfl.sequential({
    layers: [
      L.conv2dTranspose({ filters: 2, kernelSize: 2, inputShape: [4, 4, 1] }),
    ],
  });
  assert.throws(() => toOnnx(deconv), /"Conv2DTranspose" is not supported/);
});

Deno.test("toOnnx() rejects an unsupported activation by name", () => {
  const model = tfl.sequential({
    layers: [L.dense({ units: 2, inputShape: [3], activation: "swish" })],
  });
  assert.throws(() => toOnnx(model), /activation "swish"/);
});

Deno.test("toOnnx() stores a shared layer's weights once", async () => {
  const a = tfl.input({ shape: [4] });
  const b = tfl.input({ shape: [4] });
  const shared = L.dense({ units: 4, activation: "tanh" });
  const sum = apply(L.add({}), [apply(shared, a), apply(shared, b)]);
  const twice = apply(shared, sum);
  const model = tfl.model({ inputs: [a, b], outputs: twice });
  randomizeWeights(model);
  const graph = onnx.ModelProto.decode(toOnnx(model)).graph!;
  assert.equal(graph.initializer?.length, 2);
  assert.equal(graph.node?.filter((n) => n.opType === "MatMul").length, 3);
  await assertRoundTrip(model);
});
