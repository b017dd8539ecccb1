/**
 * The cost of a training step with each regularizer, relative to a plain
 * SGD step, on the wasm backend:
 *
 * - a SimpleCNN (conv 32 3x3 ReLU, max pool 2, conv 64 3x3 ReLU, max pool 2,
 *   dense 128 ReLU, dense 10) on MNIST shapes, batch 128;
 * - an MLP 784-256-256-10 (ReLU), batch 128.
 *
 * Each step runs the plugin hooks as core/train.ts does (loss hook inside
 * the gradient computation, afterBackward, beforeOptimizerStep, SGD update),
 * with `every: 1` so that every timed step carries the penalty; with
 * `every: k` a step costs on average 1 + (ratio - 1) / k plain steps. The
 * reference is bench/regularizers_reference.py: PyTorch on the CPU, the same
 * nets, the same double-backprop step (sampled labels, whole batch), run
 * right after in the same process tree when python3 has torch.
 *
 * Run alone: `deno run -A bench/regularizers.ts [--quick]` prints the rows
 * as JSON.
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import type { LayersModel } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { crossEntropy, forward } from "../core/functional.ts";
import { Random } from "../core/random.ts";
import type { Context, Plugin } from "../core/types.ts";
import { mlp } from "../models/mlp.ts";
import { simpleCnn } from "../models/simple_cnn.ts";
import {
  fisherPenalty,
  gradientNormPenalty,
  inputGradientPenalty,
  weightDecay,
} from "../regularizers/mod.ts";
import { median, runReference } from "./_measure.ts";
import type { BenchRow } from "./row.ts";

const BATCH = 128;
const LR = 0.01;

/** What bench/regularizers_reference.py prints, per net. */
interface ReferenceNet {
  sgdStepMs: number;
  fisherStepMs: number;
}

interface Reference {
  torch: string;
  threads: number;
  cnn: ReferenceNet;
  mlp: ReferenceNet;
}

type Net = "cnn" | "mlp";

const PENALTIES: [string, () => Plugin | undefined][] = [
  ["plain SGD", () => undefined],
  [
    "Fisher penalty, exact, B'=128",
    () => fisherPenalty({ alpha: 0.1, every: 1, subBatch: BATCH }),
  ],
  [
    "Fisher penalty, exact, B'=32",
    () => fisherPenalty({ alpha: 0.1, every: 1, subBatch: 32 }),
  ],
  ["Fisher penalty, finite-difference, B'=128", () =>
    fisherPenalty({
      alpha: 0.1,
      every: 1,
      subBatch: BATCH,
      method: "finite-difference",
    })],
  [
    "GP (true labels), B'=128",
    () => gradientNormPenalty({ alpha: 0.1, every: 1, subBatch: BATCH }),
  ],
  [
    "GPx, B'=128",
    () => inputGradientPenalty({ alpha: 0.1, every: 1, subBatch: BATCH }),
  ],
  ["weight decay, L2", () => weightDecay({ coefficient: 5e-4 })],
];

/** Times the workloads; see the module documentation. */
export async function run(options: { quick: boolean }): Promise<BenchRow[]> {
  await useBackend("wasm");
  const repeats = options.quick ? 3 : 7;
  const times: Record<Net, Record<string, number | string>> = {
    cnn: timeNet(simpleCnn({ seed: 1 }), [28, 28, 1], repeats),
    mlp: timeNet(
      mlp({ inputShape: [784], hidden: [256, 256], classes: 10, seed: 1 }),
      [784],
      repeats,
    ),
  };
  const reference = await runReference<Reference>(
    "regularizers_reference.py",
    options.quick,
    (r) => r.cnn !== undefined,
  );
  return rows(times, reference);
}

/**
 * Median ms per step with each penalty on `model` (or the error), each timed
 * alternately with a plain step so that both see the same load on a shared
 * machine; "plain SGD" is the median over all plain steps.
 */
function timeNet(
  model: LayersModel,
  shape: number[],
  repeats: number,
): Record<string, number | string> {
  const x = tf.randomNormal([BATCH, ...shape], 0, 1, "float32", 1);
  const y = tf.randomUniform([BATCH], 0, 10, "int32", 2);
  const out: Record<string, number | string> = {};
  const plainCtx = benchContext(model, x, y);
  const plain = () => step(plainCtx, undefined);
  const plainTimes: number[] = [];
  for (const [name, make] of PENALTIES.slice(1)) {
    const plugin = make();
    const ctx = benchContext(model, x, y);
    const penalized = () => step(ctx, plugin);
    try {
      const times: number[] = [];
      for (let i = -1; i < repeats; i++) {
        const a = timeMs(plain);
        const b = timeMs(penalized);
        if (i < 0) continue;
        plainTimes.push(a);
        times.push(b);
      }
      out[name] = median(times);
    } catch (error) {
      out[name] = error instanceof Error ? error.message : String(error);
    }
  }
  out[PENALTIES[0][0]] = plainTimes.length > 0 ? median(plainTimes) : NaN;
  tf.dispose([x, y]);
  model.dispose();
  return out;
}

/** Just enough of a training context for the regularizers' hooks. */
function benchContext(
  model: LayersModel,
  x: tf.Tensor,
  y: tf.Tensor,
): Context {
  const counters = {
    epoch: 0,
    step: 0,
    batchInEpoch: 0,
    stepsPerEpoch: 1,
    examplesSeen: 0,
    epochs: 1,
  };
  const ctx = {
    counters,
    model,
    params: model.trainableWeights.map((w) => w.read() as tf.Variable),
    optimizer: { name: "sgd", learningRate: LR },
    batch: {
      x,
      y,
      indices: Int32Array.from({ length: BATCH }, (_, i) => i),
      size: BATCH,
    },
    logits: undefined as tf.Tensor | undefined,
    metrics: { log: () => {} },
    random: new Random(0),
    batchSize: BATCH,
    forward: (input: tf.Tensor, training: boolean) =>
      forward(model, input, training),
    lossFn: (logits: tf.Tensor, labels: tf.Tensor) =>
      crossEntropy(logits, labels) as tf.Scalar,
  };
  return ctx as unknown as Context;
}

/** One step as core/train.ts takes it, with at most one plugin. */
function step(ctx: Context, plugin: Plugin | undefined): void {
  const batch = ctx.batch!;
  tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      const logits = ctx.forward(batch.x, true);
      ctx.logits = logits;
      const loss = ctx.lossFn(logits, batch.y);
      return plugin?.loss?.(ctx, loss) ?? loss;
    }, ctx.params);
    ctx.logits = undefined;
    let list = ctx.params.map((p) => grads[p.name]);
    list = plugin?.afterBackward?.(ctx, list) ?? list;
    list = plugin?.beforeOptimizerStep?.(ctx, list) ?? list;
    ctx.params.forEach((p, i) => p.assign(tf.sub(p, tf.mul(list[i], LR))));
    value.dataSync();
  });
  ctx.counters.step++;
}

function timeMs(f: () => unknown): number {
  const start = performance.now();
  f();
  return performance.now() - start;
}

function rows(
  times: Record<Net, Record<string, number | string>>,
  reference: Reference | string,
): BenchRow[] {
  const ref = typeof reference === "string" ? undefined : reference;
  const refNote = ref
    ? `PyTorch ${ref.torch}, ${ref.threads} threads`
    : reference as string;
  const out: BenchRow[] = [];
  const label: Record<Net, string> = {
    cnn: "SimpleCNN",
    mlp: "MLP 784-256-256-10",
  };
  for (const net of ["cnn", "mlp"] as Net[]) {
    const t = times[net];
    const plain = t["plain SGD"];
    const refNet = ref?.[net];
    out.push({
      group: "regularizers",
      workload: `${label[net]} plain SGD step, batch ${BATCH}, wasm`,
      unit: "ms/step",
      fisherlab: typeof plain === "number" ? plain : NaN,
      reference: refNet?.sgdStepMs,
      higherIsBetter: false,
      note: typeof plain === "number" ? refNote : `failed: ${plain}`,
    });
    for (const [name] of PENALTIES.slice(1)) {
      const ms = t[name];
      const ok = typeof ms === "number" && typeof plain === "number";
      const comparable = name.startsWith("Fisher penalty, exact, B'=128");
      out.push({
        group: "regularizers",
        workload: `${label[net]} step with ${name}, relative to plain`,
        unit: "x plain step",
        fisherlab: ok ? (ms as number) / (plain as number) : NaN,
        reference: comparable && refNet
          ? refNet.fisherStepMs / refNet.sgdStepMs
          : undefined,
        higherIsBetter: false,
        note: ok
          ? `${(ms as number).toFixed(0)} ms/step` +
            (comparable && refNet
              ? `; PyTorch ${refNet.fisherStepMs.toFixed(0)} ms/step`
              : "")
          : `failed: ${ms}`,
      });
    }
  }
  return out;
}

if (import.meta.main) {
  const rowsOut = await run({ quick: Deno.args.includes("--quick") });
  const text = JSON.stringify(rowsOut, null, 2) + "\n";
  await Deno.stdout.write(new TextEncoder().encode(text));
}
