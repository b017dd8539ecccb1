import assert from "node:assert/strict";
import { join } from "node:path";
import { tfl } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import type { Context, Plugin } from "../core/types.ts";
import { readOnnxMetadata } from "./metadata.ts";
import { onnxExport, type OnnxExportContext } from "./plugin.ts";

await useBackend("cpu");

// The loop's context and plugin contract conform to the plugin's own types.
const _fromCore: (ctx: Context) => OnnxExportContext = (ctx) => ctx;
const _asPlugin: Plugin = onnxExport();

function context(dir: string, error?: unknown): OnnxExportContext {
  const model = tfl.sequential({
    layers: [tfl.layers.dense({ units: 2, inputShape: [3] })],
  });
  return {
    model,
    run: { dir, seed: 5, config: { epochs: 2, model: "mlp" } },
    metrics: { latest: () => ({ "test/accuracy": 0.75 }) },
    error,
  };
}

Deno.test("onnxExport() exports the model into the run folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const plugin = onnxExport();
    assert.equal(plugin.name, "onnx-export");
    await plugin.fitEnd(context(dir));
    const path = join(dir, "model.onnx");
    assert.equal(plugin.report?.path, path);
    assert.ok(plugin.report?.verification?.passed);
    const meta = readOnnxMetadata(await Deno.readFile(path));
    assert.deepEqual(JSON.parse(meta.training_config), {
      epochs: 2,
      model: "mlp",
    });
    assert.equal(meta.seed, "5");
    assert.deepEqual(JSON.parse(meta.metrics), { "test/accuracy": 0.75 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("onnxExport() honours file and skips a failed run", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const plugin = onnxExport({ file: "out/final.onnx" });
    await plugin.fitEnd(context(dir, new Error("diverged")));
    assert.equal(plugin.report, undefined);
    await assert.rejects(Deno.stat(join(dir, "out")), Deno.errors.NotFound);
    await plugin.fitEnd(context(dir));
    assert.ok((await Deno.stat(join(dir, "out", "final.onnx"))).isFile);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
