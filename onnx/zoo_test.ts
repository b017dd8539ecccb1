import assert from "node:assert/strict";
import { join } from "node:path";
import { type LayersModel, tf } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { mlp, resnet, simpleCnn, vgg } from "../models/mod.ts";
import { exportOnnx } from "./export.ts";

await useBackend("cpu");

/** Gives every batch norm layer the statistics of a trained one. */
function trainedBatchNorm(model: LayersModel): LayersModel {
  let seed = 1;
  for (const layer of model.layers) {
    if (layer.getClassName() !== "BatchNormalization") continue;
    const values = layer.weights.map((w) => {
      const shape = w.shape as number[];
      return w.originalName.endsWith("moving_variance")
        ? tf.randomUniform(shape, 0.5, 1.5, "float32", seed++)
        : tf.randomNormal(shape, 0, 0.3, "float32", seed++);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
  return model;
}

const ZOO: Record<string, () => LayersModel> = {
  "MLP": () => mlp({ inputShape: [28, 28, 1], hidden: [64, 32], seed: 1 }),
  "SimpleCNN": () => simpleCnn({ seed: 2 }),
  "VGG-11 (width 1/8)": () => vgg({ widthFactor: 0.125, seed: 3 }),
  "VGG-11 with batch norm (width 1/8)": () =>
    vgg({ widthFactor: 0.125, batchNorm: true, seed: 4 }),
  "ResNet-8": () => resnet({ seed: 5 }),
};

for (const [name, make] of Object.entries(ZOO)) {
  Deno.test(`exportOnnx() exports the zoo's ${name}`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      const model = trainedBatchNorm(make());
      const report = await exportOnnx(model, join(dir, "model.onnx"));
      const v = report.verification!;
      assert.ok(v.passed, `rel ${v.maxRelDiff}, abs ${v.maxAbsDiff}`);
      model.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
