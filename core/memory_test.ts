import assert from "node:assert/strict";
import { tf } from "./tf.ts";
import { train } from "./train.ts";
import { sgd } from "./optimizer.ts";
import type { Plugin } from "./types.ts";
import { mlp } from "../models/mod.ts";
import { gaussianMixture } from "../datasets/mod.ts";
import { fisherPenalty } from "../regularizers/mod.ts";
import { fisherTraceMonitor, hessianTraceMonitor } from "../evaluators/mod.ts";

Deno.test("train() keeps tensors, backend buffers and resident memory flat over epochs", async () => {
  const data = gaussianMixture({
    classes: 4,
    dim: 32,
    size: 2048,
    testSize: 256,
    seed: 3,
  });
  const seen: { tensors: number; buffers: number; rss: number }[] = [];
  const probe: Plugin = {
    name: "memory-probe",
    enforce: "post",
    epochEnd() {
      seen.push({
        tensors: tf.memory().numTensors,
        buffers: tf.engine().backend.numDataIds(),
        rss: Deno.memoryUsage().rss,
      });
    },
  };
  await train({
    model: (seed) =>
      mlp({ inputShape: [32], hidden: [64, 64], classes: 4, seed }),
    data,
    epochs: 8,
    batchSize: 64,
    optimizer: sgd({ lr: 0.05, momentum: 0.9 }),
    backend: "wasm",
    outDir: await Deno.makeTempDir(),
    progress: false,
    plugins: [
      fisherPenalty({ alpha: 0.1, every: 2 }),
      fisherTraceMonitor({
        mode: "exact",
        data: { examples: 64 },
        schedule: { every: 16 },
      }),
      hessianTraceMonitor({
        maxProbes: 4,
        minProbes: 4,
        data: { examples: 64 },
      }),
      probe,
    ],
  });
  // From the second epoch on (the first allocates momentum buffers and
  // warms caches), nothing may accumulate.
  const steady = seen.slice(1);
  for (const s of steady) {
    assert.equal(
      s.tensors,
      steady[0].tensors,
      `tensors per epoch: ${seen.map((x) => x.tensors)}`,
    );
    assert.equal(
      s.buffers,
      steady[0].buffers,
      `buffers per epoch: ${seen.map((x) => x.buffers)}`,
    );
  }
  // 8 epochs x 32 steps: a leak of one batch (32 KB) per step would add
  // 7 MB; allow 24 MB of allocator noise.
  const growth = (steady[steady.length - 1].rss - steady[0].rss) / 2 ** 20;
  assert.ok(growth < 24, `resident memory grew ${growth.toFixed(1)} MiB`);
});
