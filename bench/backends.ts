/**
 * The same SimpleCNN SGD step (batch 128, 28x28x1) on every backend this
 * machine has: wasm (with and without the native kernel pack when a BLAS is
 * found), cpu and webgpu. Each backend is timed in this one run, so the
 * numbers compare like with like.
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import { type BackendName, useBackend } from "../core/backend.ts";
import {
  crossEntropy,
  forward,
  trainableParams,
  valueAndGrads,
} from "../core/functional.ts";
import { simpleCnn } from "../models/simple_cnn.ts";
import { medianMs } from "./_measure.ts";
import type { BenchRow } from "./row.ts";

const BATCH = 128;

/** Median milliseconds of one SGD step on `backend`, after a warm-up. */
async function stepMs(
  backend: BackendName,
  repeats: number,
  native: "on" | "off" = "off",
): Promise<number> {
  await useBackend(backend, { native });
  const model = simpleCnn({ seed: 1 });
  const params = trainableParams(model);
  const x = tf.randomNormal([BATCH, 28, 28, 1], 0, 1, "float32", 1);
  const y = tf.randomUniform([BATCH], 0, 10, "int32", 2);
  const step = async () => {
    tf.tidy(() => {
      const { grads } = valueAndGrads(
        () => crossEntropy(forward(model, x, true), y) as tf.Scalar,
        params,
      );
      params.forEach((p, i) => p.assign(tf.sub(p, tf.mul(grads[i], 0.01))));
    });
    await params[0].data();
  };
  const ms = await medianMs(step, repeats);
  tf.dispose([x, y]);
  model.dispose();
  return ms;
}

async function hasAdapter(): Promise<boolean> {
  try {
    return !!(await navigator.gpu?.requestAdapter());
  } catch {
    return false;
  }
}

/** Times the step per backend; see the module documentation. */
export async function run(options: { quick: boolean }): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const row = (backend: string, ms: number, note?: string): BenchRow => ({
    group: "backends",
    workload: `SimpleCNN SGD step, batch ${BATCH}, ${backend}`,
    unit: "ms/step",
    fisherlab: ms,
    note,
  });
  const repeats = options.quick ? 3 : 10;
  rows.push(row("wasm", await stepMs("wasm", repeats)));
  const info = await useBackend("wasm");
  rows.push(
    info.native.enabled
      ? row("wasm + native kernels", await stepMs("wasm", repeats, "on"))
      : row("wasm + native kernels", NaN, info.native.reason),
  );
  rows.push(row("cpu", await stepMs("cpu", options.quick ? 1 : 3)));
  if (await hasAdapter()) {
    const info = (await navigator.gpu.requestAdapter())?.info;
    rows.push(
      row(
        "webgpu",
        await stepMs("webgpu", options.quick ? 1 : 3),
        info?.description,
      ),
    );
  } else {
    rows.push(row("webgpu", NaN, "no WebGPU adapter on this machine"));
  }
  await useBackend("wasm");
  return rows;
}

if (import.meta.main) {
  // deno-lint-ignore no-console
  console.log(
    JSON.stringify(
      await run({ quick: Deno.args.includes("--quick") }),
      null,
      2,
    ),
  );
}
