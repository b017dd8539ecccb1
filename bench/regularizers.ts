/**
 * The cost of a training step with each regularizer, relative to a plain
 * SGD step, on the wasm backend:
 *
 * - a SimpleCNN (conv 32 3x3 ReLU, max pool 2, conv 64 3x3 ReLU, max pool 2,
 *   dense 128 ReLU, dense 10) on MNIST shapes, batch 128;
 * - an MLP 784-256-256-10 (ReLU), batch 128;
 * - with the plain step and the Fisher penalty (exact, B'=128) only: an MLP
 *   784-256-10 (the curvature group's) and the ResNet-8 of models/resnet.ts
 *   on CIFAR shapes (32x32x3), batch 128, batch norm in training mode.
 *
 * For the MLP 784-256-10, the SimpleCNN and the ResNet-8, the plain step
 * and the Fisher-penalty step (in ms/step) also fill the per-net summary.
 * Each step runs the plugin hooks as core/train.ts does (loss hook inside
 * the gradient computation, afterBackward, beforeOptimizerStep, SGD update),
 * with `every: 1` so that every timed step carries the penalty; with
 * `every: k` a step costs on average 1 + (ratio - 1) / k plain steps. The
 * reference is bench/regularizers_reference.py: PyTorch on the CPU, the same
 * nets, the same double-backprop step (sampled labels, whole batch), run
 * right after in the same process tree when python3 has torch, each net
 * with the faster of all CPUs and one thread in a few untimed steps. Both
 * sides time each pair of steps in its steady state (`steadyTimes`: a
 * quarter second of warm-up, then at least the repeats and a quarter
 * second).
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
import { sgd } from "../core/optimizer.ts";
import type { Context, Plugin } from "../core/types.ts";
import { mlp } from "../models/mlp.ts";
import { resnet } from "../models/resnet.ts";
import { simpleCnn } from "../models/simple_cnn.ts";
import {
  fisherPenalty,
  gradientNormPenalty,
  inputGradientPenalty,
  weightDecay,
} from "../regularizers/mod.ts";
import { median, runReference, steadyTimes, weightsNote } from "./_measure.ts";
import type { BenchRow, SummaryNet } from "./row.ts";

const BATCH = 128;
const LR = 0.01;

/** What bench/regularizers_reference.py prints, per net. */
interface ReferenceNet {
  sgdStepMs: number;
  fisherStepMs: number;
  weights: number;
  /** Its threads: the faster of `threadCounts` in a few plain steps. */
  threads: number;
}

/** The nets, by the keys the reference uses. */
type Net = "cnn" | "mlp2" | "mlp1" | "resnet";

/** What bench/regularizers_reference.py prints. */
interface Reference extends Record<Net, ReferenceNet> {
  torch: string;
  /** The thread counts it chose from, per net. */
  threadCounts: number[];
}

/** A net to time: how to build it, its input, and what it is timed with. */
interface NetSpec {
  label: string;
  make: () => LayersModel;
  /** Shape of one example. */
  shape: number[];
  /** Every penalty, or the plain step and the Fisher penalty only. */
  penalties: "all" | "fisher";
  /** The net's name in the per-net summary. */
  summary?: SummaryNet;
}

const NETS: Record<Net, NetSpec> = {
  cnn: {
    label: "SimpleCNN",
    make: () => simpleCnn({ seed: 1 }),
    shape: [28, 28, 1],
    penalties: "all",
    summary: "SimpleCNN",
  },
  mlp2: {
    label: "MLP 784-256-256-10",
    make: () =>
      mlp({ inputShape: [784], hidden: [256, 256], classes: 10, seed: 1 }),
    shape: [784],
    penalties: "all",
  },
  mlp1: {
    label: "MLP 784-256-10",
    make: () => mlp({ inputShape: [784], hidden: [256], classes: 10, seed: 1 }),
    shape: [784],
    penalties: "fisher",
    summary: "MLP 784-256-10",
  },
  resnet: {
    label: "ResNet-8",
    make: () => resnet({ seed: 1 }),
    shape: [32, 32, 3],
    penalties: "fisher",
    summary: "ResNet-8",
  },
};

/** The penalty whose step the reference also times. */
const FISHER = "Fisher penalty, exact, B'=128";

const PENALTIES: [string, () => Plugin | undefined][] = [
  ["plain SGD", () => undefined],
  [FISHER, () => fisherPenalty({ alpha: 0.1, every: 1, subBatch: BATCH })],
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
  const times = {} as Record<Net, Timed>;
  for (const [net, spec] of Object.entries(NETS) as [Net, NetSpec][]) {
    const model = spec.make();
    const penalties = spec.penalties === "all"
      ? PENALTIES.slice(1)
      : PENALTIES.filter(([name]) => name === FISHER);
    times[net] = {
      ms: await timeNet(model, spec.shape, penalties, repeats),
      weights: countWeights(model),
    };
    model.dispose();
  }
  const reference = await runReference<Reference>(
    "regularizers_reference.py",
    options.quick,
    (r) => r.resnet !== undefined,
  );
  return rows(times, reference);
}

/** One net's median ms per step by penalty (or the error), and its size. */
interface Timed {
  ms: Record<string, number | string>;
  weights: number;
}

function countWeights(model: LayersModel): number {
  return model.trainableWeights.reduce((n, w) => n + w.read().size, 0);
}

/**
 * Median ms per step with each of `penalties` on `model` (or the error),
 * each timed alternately with a plain step so that both see the same load
 * on a shared machine; "plain SGD" is the median over all plain steps.
 */
async function timeNet(
  model: LayersModel,
  shape: number[],
  penalties: typeof PENALTIES,
  repeats: number,
): Promise<Record<string, number | string>> {
  const x = tf.randomNormal([BATCH, ...shape], 0, 1, "float32", 1);
  const y = tf.randomUniform([BATCH], 0, 10, "int32", 2);
  const out: Record<string, number | string> = {};
  const plainCtx = benchContext(model, x, y);
  const plain = () => step(plainCtx, undefined);
  const plainTimes: number[] = [];
  for (const [name, make] of penalties) {
    const plugin = make();
    const ctx = benchContext(model, x, y);
    const penalized = () => step(ctx, plugin);
    try {
      const [plainMs, penalizedMs] = await steadyTimes(
        [plain, penalized],
        repeats,
      );
      plainTimes.push(...plainMs);
      out[name] = median(penalizedMs);
    } catch (error) {
      out[name] = error instanceof Error ? error.message : String(error);
    }
  }
  out[PENALTIES[0][0]] = plainTimes.length > 0 ? median(plainTimes) : NaN;
  tf.dispose([x, y]);
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
    optimizer: sgd({ lr: LR }),
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
  // Synchronous for the plugins timed here; train() awaits the hook.
  void plugin?.beforeBackward?.(ctx);
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
    ctx.optimizer.apply(ctx.params, list);
    value.dataSync();
  });
  ctx.counters.step++;
}

function rows(
  times: Record<Net, Timed>,
  reference: Reference | string,
): BenchRow[] {
  const ref = typeof reference === "string" ? undefined : reference;
  const out: BenchRow[] = [];
  for (const [net, spec] of Object.entries(NETS) as [Net, NetSpec][]) {
    const t = times[net].ms;
    const plain = t["plain SGD"];
    const refNet = ref?.[net];
    const refNote = !ref
      ? reference as string
      : `PyTorch ${ref.torch}, ${refNet?.threads} thread(s) (the faster ` +
        `of ${ref.threadCounts.join(" and ")} in a trial)`;
    const weights = net === "resnet"
      ? weightsNote(times[net].weights, refNet?.weights)
      : "";
    out.push({
      group: "regularizers",
      workload: `${spec.label} plain SGD step, batch ${BATCH}, wasm`,
      unit: "ms/step",
      fisherlab: typeof plain === "number" ? plain : NaN,
      reference: refNet?.sgdStepMs,
      higherIsBetter: false,
      note: typeof plain === "number"
        ? [refNote, weights].filter((s) => s !== "").join("; ")
        : `failed: ${plain}`,
      ...(spec.summary
        ? { cell: { net: spec.summary, workload: "plain SGD step" } }
        : {}),
    });
    if (spec.summary) out.push(fisherRow(spec, t[FISHER], refNet, refNote));
    for (const name of Object.keys(t)) {
      if (name === "plain SGD") continue;
      out.push(relativeRow(spec.label, name, t[name], plain, refNet));
    }
  }
  return out;
}

/** The Fisher-penalty step in ms/step, for the per-net summary. */
function fisherRow(
  spec: NetSpec,
  ms: number | string,
  refNet: ReferenceNet | undefined,
  refNote: string,
): BenchRow {
  return {
    group: "regularizers",
    workload: `${spec.label} step with ${FISHER}, batch ${BATCH}, wasm`,
    unit: "ms/step",
    fisherlab: typeof ms === "number" ? ms : NaN,
    reference: refNet?.fisherStepMs,
    higherIsBetter: false,
    note: typeof ms === "number"
      ? `labels sampled from the model, double backprop; ${refNote}`
      : `failed: ${ms}`,
    cell: { net: spec.summary!, workload: "Fisher-penalty step" },
  };
}

/** A penalized step over a plain one; the reference has the Fisher one. */
function relativeRow(
  label: string,
  name: string,
  ms: number | string,
  plain: number | string,
  refNet: ReferenceNet | undefined,
): BenchRow {
  const ok = typeof ms === "number" && typeof plain === "number";
  const comparable = name === FISHER;
  return {
    group: "regularizers",
    workload: `${label} step with ${name}, relative to plain`,
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
  };
}

if (import.meta.main) {
  const rowsOut = await run({ quick: Deno.args.includes("--quick") });
  const text = JSON.stringify(rowsOut, null, 2) + "\n";
  await Deno.stdout.write(new TextEncoder().encode(text));
}
