import assert from "node:assert/strict";
import { type LayersModel, tf } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { mlp, resnet, simpleCnn, vgg } from "./mod.ts";

await useBackend("cpu");

function weights(model: LayersModel): number[] {
  return model.getWeights().flatMap((w) => Array.from(w.dataSync()));
}

Deno.test("simpleCnn() has the parameter count worked out by hand", () => {
  const model = simpleCnn();
  // conv 3x3x1x32 + 32, conv 3x3x32x64 + 64, dense 7*7*64 x 128 + 128,
  // dense 128 x 10 + 10.
  const expected = (9 * 32 + 32) + (9 * 32 * 64 + 64) +
    (7 * 7 * 64 * 128 + 128) + (128 * 10 + 10);
  assert.equal(model.countParams(), expected);
  assert.deepEqual(model.outputs[0].shape, [null, 10]);
});

Deno.test("mlp() has the parameter count worked out by hand", () => {
  const model = mlp({ inputShape: [28, 28, 1], hidden: [100, 50] });
  assert.equal(
    model.countParams(),
    784 * 100 + 100 + 100 * 50 + 50 + 50 * 10 + 10,
  );
});

Deno.test("zoo models give the same weights for the same seed", () => {
  const builders: [string, (seed: number) => LayersModel][] = [
    ["mlp", (seed) => mlp({ inputShape: [6], hidden: [5], seed })],
    ["simpleCnn", (seed) => simpleCnn({ inputShape: [8, 8, 1], seed })],
    [
      "vgg",
      (seed) => vgg({ inputShape: [8, 8, 3], plan: [4, "M", 8, "M"], seed }),
    ],
    ["resnet", (seed) => resnet({ inputShape: [8, 8, 3], width: 4, seed })],
  ];
  for (const [name, build] of builders) {
    const a = weights(build(1));
    const b = weights(build(1));
    const c = weights(build(2));
    assert.deepEqual(a, b, `${name}: same seed, different weights`);
    assert.notDeepEqual(a, c, `${name}: different seeds, same weights`);
  }
});

Deno.test("vgg() follows its plan, width factor and batch norm option", () => {
  const plain = vgg({ inputShape: [32, 32, 3], widthFactor: 0.25 });
  const convs = plain.layers.filter((l) => l.getClassName() === "Conv2D");
  assert.equal(convs.length, 8, "VGG-11 has 8 conv layers");
  assert.deepEqual(
    convs.map((l) => (l.getConfig() as { filters: number }).filters),
    [16, 32, 64, 64, 128, 128, 128, 128],
  );
  const bn = vgg({
    inputShape: [32, 32, 3],
    widthFactor: 0.25,
    batchNorm: true,
  });
  const norms = bn.layers.filter((l) =>
    l.getClassName() === "BatchNormalization"
  );
  assert.equal(norms.length, 8);
});

Deno.test("resnet() depth is 6 * blocksPerStage + 2 and it downsamples twice", () => {
  const model = resnet({
    inputShape: [32, 32, 3],
    blocksPerStage: 2,
    width: 8,
  });
  const convs = model.layers.filter((l) =>
    l.getClassName() === "Conv2D" &&
    (l.getConfig() as { kernelSize: number[] }).kernelSize[0] === 3
  );
  assert.equal(convs.length + 1, 6 * 2 + 2, "3x3 convs plus the dense layer");
  const x = tf.zeros([2, 32, 32, 3]);
  const out = model.predict(x) as tf.Tensor;
  assert.deepEqual(out.shape, [2, 10]);
  const adds = model.layers.filter((l) => l.getClassName() === "Add");
  assert.equal(adds.length, 6);
  tf.dispose([x, out]);
});
