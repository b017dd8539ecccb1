import assert from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { tf } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import type { Plugin } from "../core/types.ts";
import { makeBatch, makeContext, tinyMlp } from "./_testing.ts";

await useBackend("cpu");

/** The README's example plugin, loaded from the README itself. */
async function readmeExample(): Promise<
  (options?: { beta?: number }) => Plugin
> {
  const readme = new URL("./README.md", import.meta.url);
  const text = await Deno.readTextFile(readme);
  const blocks = [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  const code = blocks.find((b) => b.includes("function entropyPenalty"));
  assert.ok(code, "README.md has no entropyPenalty example");
  // Imports in the README are relative to regularizers/.
  const root = new URL("../", readme).href;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, code.replaceAll('from "../', `from "${root}`));
  const module = await import(pathToFileURL(file).href);
  await Deno.remove(file);
  return module.entropyPenalty;
}

Deno.test("README example entropyPenalty() adds -beta * mean entropy", async () => {
  const entropyPenalty = await readmeExample();
  const model = tinyMlp();
  const batch = makeBatch(6, [5], 4);
  const ctx = makeContext(model, batch);
  const logits = model.predict(batch.x) as tf.Tensor;
  ctx.logits = logits;

  const value = tf.tidy(() =>
    (entropyPenalty({ beta: 0.5 }).loss!(ctx, tf.scalar(2)) as tf.Scalar)
      .dataSync()[0]
  );

  const z = logits.arraySync() as number[][];
  let entropy = 0;
  for (const row of z) {
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    entropy -= e.reduce((a, v) => a + (v / s) * Math.log(v / s), 0);
  }
  entropy /= z.length;
  assert.ok(Math.abs(value - (2 - 0.5 * entropy)) < 1e-5, `${value}`);
  tf.dispose([logits, batch.x, batch.y, ...ctx.params]);
});
