import assert from "node:assert/strict";
import { join } from "node:path";
import { type LayersModel, tf, tfl } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { toOnnx } from "./convert.ts";
import { exportOnnx } from "./export.ts";
import { readOnnxMetadata } from "./metadata.ts";
import { randomizeWeights } from "./_testing.ts";

await useBackend("cpu");

function cnn(): LayersModel {
  const model = tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        inputShape: [8, 8, 2],
        filters: 4,
        kernelSize: 3,
        activation: "relu",
      }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: 3 }),
    ],
  });
  randomizeWeights(model);
  return model;
}

/** `model`, but its tfjs predictions are off by `delta`. */
function skewed(model: LayersModel, delta: number): LayersModel {
  const predict = model.predict.bind(model);
  model.predict = (x, args) =>
    tf.tidy(() => tf.add(predict(x, args) as tf.Tensor, delta));
  return model;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fisherlab_onnx_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("exportOnnx() writes a verified file and reports the match", async () => {
  await withDir(async (dir) => {
    const model = cnn();
    const path = join(dir, "sub", "model.onnx");
    const report = await exportOnnx(model, path, { seed: 3 });
    const bytes = await Deno.readFile(path);
    assert.equal(report.path, path);
    assert.equal(report.bytes, bytes.length);
    assert.deepEqual(bytes, toOnnx(model, { seed: 3 }));
    const v = report.verification!;
    assert.ok(v.passed);
    assert.ok(v.maxAbsDiff < 1e-4 && v.maxRelDiff < 1e-4);
    assert.equal(v.tolerance, 1e-4);
    assert.equal(v.batchSize, 4);
    assert.deepEqual(await listDir(join(dir, "sub")), ["model.onnx"]);
  });
});

Deno.test("exportOnnx() compares on the given sample, NCHW too", async () => {
  await withDir(async (dir) => {
    const sample = tf.randomUniform([2, 8, 8, 2], -1, 1, "float32", 4);
    const report = await exportOnnx(cnn(), join(dir, "m.onnx"), {
      sample,
      inputLayout: "nchw",
    });
    assert.equal(report.verification!.batchSize, 2);
    assert.ok(report.verification!.passed);
    assert.ok(!sample.isDisposed);
    sample.dispose();
  });
});

Deno.test("exportOnnx() fails on a mismatch and writes nothing", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "model.onnx");
    await assert.rejects(
      exportOnnx(skewed(cnn(), 1e-3), path),
      /differ from tfjs's by .* above the tolerance 0.0001; the file was not/,
    );
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("exportOnnx() keeps an earlier good file when verification fails", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "model.onnx");
    await exportOnnx(cnn(), path);
    const good = await Deno.readFile(path);
    const other = skewed(cnn(), 0.5);
    randomizeWeights(other, 99);
    await assert.rejects(exportOnnx(other, path), /the file was not written/);
    assert.deepEqual(await Deno.readFile(path), good);
    assert.deepEqual(await listDir(dir), ["model.onnx"]);
  });
});

Deno.test("exportOnnx() obeys tolerance and failOnMismatch", async () => {
  await withDir(async (dir) => {
    const loose = await exportOnnx(skewed(cnn(), 1e-3), join(dir, "a.onnx"), {
      tolerance: 1e-2,
    });
    assert.ok(loose.verification!.passed);
    assert.ok(Math.abs(loose.verification!.maxAbsDiff - 1e-3) < 1e-5);

    const kept = await exportOnnx(skewed(cnn(), 1), join(dir, "b.onnx"), {
      failOnMismatch: false,
    });
    assert.equal(kept.verification!.passed, false);
    assert.ok(Math.abs(kept.verification!.maxAbsDiff - 1) < 1e-4);

    const unverified = await exportOnnx(skewed(cnn(), 1), join(dir, "c.onnx"), {
      verify: false,
    });
    assert.equal(unverified.verification, undefined);
    assert.deepEqual(await listDir(dir), ["a.onnx", "b.onnx", "c.onnx"]);
  });
});

Deno.test("exportOnnx() metadata round-trips through the file", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "model.onnx");
    const config = { optimizer: { name: "sgd", lr: 0.05 }, epochs: 3 };
    const metrics = { "test/accuracy": 0.5, "fisher/trace": 12.25 };
    await exportOnnx(cnn(), path, { config, seed: 17, metrics });
    const meta = readOnnxMetadata(await Deno.readFile(path));
    assert.deepEqual(JSON.parse(meta.training_config), config);
    assert.equal(meta.seed, "17");
    assert.deepEqual(JSON.parse(meta.metrics), metrics);
    assert.match(meta.fisherlab_version, /^\d+\.\d+\.\d+/);
  });
});
