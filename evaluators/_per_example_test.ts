import assert from "node:assert/strict";
import { tf, tfl } from "../core/tf.ts";
import type { LayersModel } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { type ParamFilter, trainableParams } from "../core/functional.ts";
import { Random } from "../core/random.ts";
import { perExampleMethod, perExampleSqNorms } from "./_per_example.ts";
import { tinyImages, tinyResnet } from "./_testing.ts";

await useBackend("cpu");

/** R sets of n seeded labels below `classes`, set after set. */
function labelSets(r: number, n: number, classes: number): Int32Array {
  const random = new Random(r * 31 + n);
  return Int32Array.from({ length: r * n }, () => random.int(classes));
}

/**
 * Checks that the batched norms equal the loop's (one backward pass per
 * example and label), entry by entry, and that no tensor is left behind.
 */
async function assertMatchesLoop(
  model: LayersModel,
  x: tf.Tensor,
  labels: Int32Array,
  filter: ParamFilter,
): Promise<void> {
  const params = trainableParams(model, filter);
  const options = { params, training: false };
  assert.equal(perExampleMethod(model, params, false), "batched");
  const before = tf.memory().numTensors;
  const fast = await perExampleSqNorms(model, x, labels, options);
  assert.equal(tf.memory().numTensors, before);
  const loop = await perExampleSqNorms(model, x, labels, {
    ...options,
    method: "loop",
  });
  const scale = Math.max(...loop);
  assert.ok(scale > 0);
  loop.forEach((want, r) => {
    const gap = Math.abs(fast[r] - want);
    assert.ok(
      gap <= 1e-4 * Math.max(Math.abs(want), 1e-3 * scale),
      `${filter}: row ${r}: batched ${fast[r]}, loop ${want}`,
    );
  });
}

const RESNET_FILTERS: ParamFilter[] = [
  "all",
  (name) => /batch_normalization/.test(name),
  (name) => /conv2d.*kernel/.test(name),
  (name) => /gamma/.test(name),
  "no-batchnorm",
];

Deno.test("perExampleSqNorms() on a ResNet with batch norm matches the loop", async () => {
  const model = tinyResnet(3);
  const x = tinyImages(4, [8, 8, 3]);
  const labels = labelSets(3, 4, 3);
  for (const filter of RESNET_FILTERS) {
    await assertMatchesLoop(model, x, labels, filter);
  }
  // Smaller passes: one row each, then fewer examples than all of them.
  const options = { params: trainableParams(model), training: false };
  const whole = await perExampleSqNorms(model, x, labels, options);
  for (const floatBudget of [1, 2 ** 16]) {
    const split = await perExampleSqNorms(model, x, labels, {
      ...options,
      floatBudget,
    });
    split.forEach((v, r) => {
      assert.ok(Math.abs(v - whole[r]) <= 1e-5 * whole[r], `${floatBudget}`);
    });
  }
  x.dispose();
  model.dispose();
});

Deno.test("perExampleSqNorms() on a ResNet matches the loop on wasm", async () => {
  await useBackend("wasm");
  try {
    const model = tinyResnet(4, 2);
    const x = tinyImages(3, [8, 8, 3], 5);
    await assertMatchesLoop(model, x, labelSets(4, 3, 4), "all");
    x.dispose();
    model.dispose();
  } finally {
    await useBackend("cpu");
  }
});

Deno.test("perExampleMethod() batches a ResNet on running statistics only", () => {
  const model = tinyResnet();
  const params = trainableParams(model);
  assert.equal(perExampleMethod(model, params, false), "batched");
  assert.equal(perExampleMethod(model, params, true), "loop");
  // Batch statistics couple the examples even when no BN weight counts.
  const noBn = trainableParams(model, "no-batchnorm");
  assert.equal(perExampleMethod(model, noBn, true), "loop");
  model.dispose();
});

/**
 * Dense on [steps, features] inputs, batch norm over the steps axis (1),
 * or over the last axis between two transposes when `permuted`, batch norm
 * over the features, flatten, dropout, dense. Seeded weights that depend
 * only on the weighted layer's place and the weight's kind.
 */
function sequenceModel(
  first: { center: boolean; permuted?: boolean },
  second: { scale: boolean },
): LayersModel {
  const input = tfl.input({ shape: [4, 3] });
  const layers = [
    tfl.layers.dense({ units: 5, activation: "tanh" }),
    tfl.layers.batchNormalization({
      axis: first.permuted ? -1 : 1,
      center: first.center,
    }),
    tfl.layers.batchNormalization(second),
    tfl.layers.dense({ units: 3 }),
  ];
  const permute = (t: unknown) =>
    first.permuted ? tfl.layers.permute({ dims: [2, 1] }).apply(t as never) : t;
  let h = layers[0].apply(input);
  h = permute(layers[1].apply(permute(h) as never)) as typeof h;
  h = tfl.layers.flatten().apply(layers[2].apply(h));
  h = tfl.layers.dropout({ rate: 0.5 }).apply(h);
  const model = tfl.model({
    inputs: input,
    outputs: layers[3].apply(h) as ReturnType<typeof tfl.input>,
  });
  const kinds = ["kernel", "bias", "gamma", "beta", "moving_mean"];
  layers.forEach((layer, l) => {
    for (const w of layer.weights) {
      const kind = w.originalName.split("/").pop()!;
      const random = new Random(10 * l + kinds.indexOf(kind));
      const shape = w.read().shape;
      const values = Float32Array.from(
        { length: shape.reduce((a, b) => a * b, 1) },
        () =>
          kind === "moving_variance" ? 0.5 + random.next() : random.normal(),
      );
      w.write(tf.tensor(values, shape));
    }
  });
  return model;
}

/** The batched norms of `model` against the loop's on `reference`. */
async function assertMatchesReference(
  model: LayersModel,
  reference: LayersModel,
  filters: [ParamFilter, ParamFilter][],
): Promise<void> {
  const x = tinyImages(5, [4, 3], 8);
  const labels = labelSets(2, 5, 3);
  for (const [mine, theirs] of filters) {
    const params = trainableParams(model, mine);
    assert.equal(perExampleMethod(model, params, false), "batched");
    const fast = await perExampleSqNorms(model, x, labels, {
      params,
      training: false,
    });
    const loop = await perExampleSqNorms(reference, x, labels, {
      params: trainableParams(reference, theirs),
      training: false,
      method: "loop",
    });
    loop.forEach((want, r) => {
      const gap = Math.abs(fast[r] - want);
      assert.ok(gap <= 1e-4 * want, `${mine}: row ${r}: ${fast[r]} ${want}`);
    });
  }
  x.dispose();
}

// tfjs differentiates its batch norm only over the last axis and with both
// gamma and beta, so the loop runs on an equivalent model that has those.

Deno.test("perExampleSqNorms() handles dense layers on sequences and batch norm on any axis", async () => {
  const model = sequenceModel({ center: true }, { scale: true });
  const reference = sequenceModel(
    { center: true, permuted: true },
    { scale: true },
  );
  const bn = (name: string) => /batch_normalization/.test(name);
  const gamma = (name: string) => name.endsWith("/gamma");
  await assertMatchesReference(model, reference, [
    ["all", "all"],
    ["no-batchnorm", "no-batchnorm"],
    [bn, bn],
    [gamma, gamma],
  ]);
  const x = tinyImages(3, [4, 3]);
  await assertMatchesLoop(reference, x, labelSets(2, 3, 3), "all");
  x.dispose();
  model.dispose();
  reference.dispose();
});

Deno.test("perExampleSqNorms() handles batch norm without beta or gamma", async () => {
  // The reference has beta = 0 in the first and gamma = 1 in the second
  // batch norm, both left uncounted.
  const model = sequenceModel({ center: false }, { scale: false });
  const reference = sequenceModel(
    { center: true, permuted: true },
    { scale: true },
  );
  const bns = reference.layers.filter((l) =>
    l.getClassName() === "BatchNormalization"
  );
  const weight = (layer: number, kind: string) =>
    bns[layer].weights.find((w) => w.originalName.endsWith(`/${kind}`))!;
  const beta = weight(0, "beta");
  const gamma = weight(1, "gamma");
  beta.write(tf.zerosLike(beta.read()));
  gamma.write(tf.onesLike(gamma.read()));
  const kept = (name: string) =>
    name !== beta.originalName && name !== gamma.originalName;
  await assertMatchesReference(model, reference, [
    ["all", kept],
    ["no-batchnorm", "no-batchnorm"],
  ]);
  model.dispose();
  reference.dispose();
});

Deno.test("perExampleMethod() falls back to the loop for a weighted layer it does not know", async () => {
  const input = tfl.input({ shape: [6, 6, 2] });
  const depthwise = tfl.layers.depthwiseConv2d({ kernelSize: 3 });
  const dilated = tfl.layers.conv2d({
    filters: 2,
    kernelSize: 2,
    dilationRate: 2,
  });
  const shared = tfl.layers.dense({ units: 4 });
  let h = dilated.apply(depthwise.apply(input));
  h = tfl.layers.dense({ units: 4 }).apply(tfl.layers.flatten().apply(h));
  h = shared.apply(shared.apply(h));
  const model = tfl.model({
    inputs: input,
    outputs: tfl.layers.dense({ units: 3 }).apply(h) as ReturnType<
      typeof tfl.input
    >,
  });
  const method = (filter: ParamFilter) =>
    perExampleMethod(model, trainableParams(model, filter), false);
  const owner = (layer: { name: string }) => (name: string) =>
    name.startsWith(`${layer.name}/`);
  assert.equal(method("all"), "loop");
  assert.equal(method(owner(depthwise)), "loop");
  assert.equal(method(owner(dilated)), "loop");
  // The shared dense layer's gradient sums two calls per example.
  assert.equal(method(owner(shared)), "loop");
  // Weights left out: those layers run through their own apply.
  const rest = (name: string) =>
    ![depthwise, dilated, shared].some((l) => owner(l)(name));
  const x = tinyImages(3, [6, 6, 2], 7);
  await assertMatchesLoop(model, x, labelSets(2, 3, 3), rest);
  x.dispose();
  model.dispose();
});

Deno.test("perExampleMethod() falls back to the loop when a layer makes a mask", () => {
  // The batched pass calls each layer on its own and passes no masks.
  const model = tfl.sequential({
    layers: [
      tfl.layers.masking({ inputShape: [4, 3] }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3 }),
    ],
  });
  assert.equal(perExampleMethod(model, trainableParams(model), false), "loop");
  model.dispose();
});

Deno.test("perExampleSqNorms() handles a convolution with one output position", async () => {
  // The patch covers part of the input only: ||a_i||^2 ||delta_i||^2 would
  // count the rest.
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [3, 3, 2],
        filters: 2,
        kernelSize: 2,
        strides: 2,
      }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3 }),
    ],
  });
  const x = tinyImages(4, [3, 3, 2], 9);
  await assertMatchesLoop(model, x, labelSets(2, 4, 3), "all");
  x.dispose();
  model.dispose();
});
