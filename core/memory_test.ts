import assert from "node:assert/strict";
import { tf } from "./tf.ts";
import { train } from "./train.ts";
import { sgd } from "./optimizer.ts";
import type { Plugin } from "./types.ts";
import { mlp } from "../models/mod.ts";
import { gaussianMixture } from "../datasets/mod.ts";
import { fisherPenalty } from "../regularizers/mod.ts";
import { fisherTraceMonitor, hessianTraceMonitor } from "../evaluators/mod.ts";

/** V8's collector, exposed by `--v8-flags=--expose-gc` (the test task). */
const gc = (globalThis as { gc?: () => void }).gc;

Deno.test("train() keeps tensors, backend buffers, the wasm heap and the JS heap flat over epochs", async () => {
  const data = gaussianMixture({
    classes: 4,
    dim: 32,
    size: 2048,
    testSize: 256,
    seed: 3,
  });
  const seen: {
    tensors: number;
    buffers: number;
    wasmHeap: number;
    jsHeap: number;
  }[] = [];
  const probe: Plugin = {
    name: "memory-probe",
    enforce: "post",
    epochEnd() {
      // Without a full collection V8 grows its heap lazily, and resident
      // memory with it, whether or not anything is retained.
      gc?.();
      const backend = tf.engine().backend as unknown as {
        wasm: { HEAPU8: Uint8Array };
      };
      seen.push({
        tensors: tf.memory().numTensors,
        buffers: tf.engine().backend.numDataIds(),
        wasmHeap: backend.wasm.HEAPU8.length,
        jsHeap: Deno.memoryUsage().heapUsed,
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
  const last = steady[steady.length - 1];
  assert.equal(last.wasmHeap, steady[0].wasmHeap, "the wasm heap grew");
  if (!gc) return; // heap sizes mean little without a full collection
  const mib = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  // 7 epochs of 32 steps: retaining even 16 KB per step adds 3.5 MiB.
  assert.ok(
    last.jsHeap - steady[0].jsHeap < 3 * 2 ** 20,
    `JS heap grew ${mib(last.jsHeap - steady[0].jsHeap)} MiB`,
  );
  // Resident memory is not asserted: over a few epochs it moves by tens of
  // MiB as pages are first touched and freed ones kept, with or without a
  // leak. Over 60 epochs of this run (with collections) it stayed within
  // 350 MiB while the JS heap went from 100 to 102 MiB.
});
