/**
 * Training throughput over an epoch, in examples per second: fisherlab's
 * real loop, `train()` of core/train.ts, against a plain PyTorch epoch loop
 * (bench/epoch_reference.py) over the same number of examples, both with
 * batch 128, SGD with lr 0.01, no augmentation, batch norm in training mode,
 * the last incomplete batch dropped:
 *
 * - the MLP 784-256-10 and the SimpleCNN on MNIST, 60,000 training
 *   examples (468 steps); PyTorch reads the same IDX files;
 * - the ResNet-8 of models/resnet.ts on 50,000 synthetic CIFAR-shaped
 *   examples (32x32x3, 390 steps), random data on both sides.
 *
 * fisherlab's epoch is timed from the epoch's start to the start of the
 * test evaluation that ends it (a timing plugin on `epochStart` and
 * `evaluationStart`): shuffling, batching, the steps, the metrics and
 * their flush are in, the test evaluation (on 128 examples) is not. No
 * progress reporter. The MLP's epoch takes under a second, so one spell of
 * other load on the machine decides it: it trains three epochs on each
 * side, and each side's fastest counts. PyTorch runs each net with the faster of all CPUs and
 * one thread, picked by a few untimed steps. With `--quick` both sides run
 * only the first steps of the epoch (the workload says how many), where the
 * first step's warm-up weighs more. The rows fill the per-net summary's
 * epoch line.
 *
 * Run alone: `deno run -A bench/epoch.ts [--quick]` prints the rows as JSON.
 *
 * @module
 */
import type { LayersModel } from "../core/tf.ts";
import { sgd } from "../core/optimizer.ts";
import { train } from "../core/train.ts";
import type { Plugin } from "../core/types.ts";
import { batchCount } from "../datasets/batches.ts";
import { loadMnist, mnistDataFolder } from "../datasets/mnist.ts";
import type { DataSplits } from "../datasets/types.ts";
import { mlp } from "../models/mlp.ts";
import { resnet } from "../models/resnet.ts";
import { simpleCnn } from "../models/simple_cnn.ts";
import { runReference, weightsNote } from "./_measure.ts";
import { cifarShaped } from "./data.ts";
import type { BenchRow, SummaryNet } from "./row.ts";

const BATCH = 128;
const LR = 0.01;
/** Examples of the synthetic CIFAR-shaped training set: CIFAR-10's size. */
const CIFAR_EXAMPLES = 50_000;

/** The nets, by the keys the reference uses. */
export type Net = "mlp" | "cnn" | "resnet";

const NETS: Record<Net, {
  label: SummaryNet;
  make: (seed: number) => LayersModel;
  /** What the net trains on, for the workload's label. */
  data: string;
  /** Steps in quick mode. */
  quickSteps: number;
  /** Epochs trained (the fastest counts); one in quick mode. */
  epochs: number;
}> = {
  mlp: {
    label: "MLP 784-256-10",
    make: (seed) =>
      mlp({ inputShape: [28, 28, 1], hidden: [256], classes: 10, seed }),
    data: "MNIST",
    quickSteps: 100,
    epochs: 3,
  },
  cnn: {
    label: "SimpleCNN",
    make: (seed) => simpleCnn({ seed }),
    data: "MNIST",
    quickSteps: 30,
    epochs: 1,
  },
  resnet: {
    label: "ResNet-8",
    make: (seed) => resnet({ seed }),
    data: "synthetic 32x32x3",
    quickSteps: 8,
    epochs: 1,
  },
};

/** One side's epoch: examples trained on, in how long, out of how many. */
export interface EpochRun {
  examplesPerSecond: number;
  examples: number;
  seconds: number;
  steps: number;
  stepsPerEpoch: number;
  /** Epochs trained; the numbers above are the fastest one's. */
  epochs: number;
  /** Trainable weights of the net. */
  weights: number;
  /** PyTorch's threads: the faster of `threadCounts` in a few steps. */
  threads?: number;
  error?: string;
}

/** What bench/epoch_reference.py prints. */
export interface EpochReference extends Record<Net, EpochRun> {
  torch: string;
  /** The thread counts it chose from, per net. */
  threadCounts: number[];
  /** Where its MNIST came from. */
  mnist: string;
}

/** Times the workloads; see the module documentation. */
export async function run(options: { quick: boolean }): Promise<BenchRow[]> {
  const outDir = await Deno.makeTempDir({ prefix: "fisherlab-bench-epoch-" });
  const mine = {} as Record<Net, EpochRun>;
  try {
    for (const net of Object.keys(NETS) as Net[]) {
      const steps = options.quick ? NETS[net].quickSteps : undefined;
      const epochs = options.quick ? 1 : NETS[net].epochs;
      mine[net] = await epoch(net, steps, epochs, outDir);
    }
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
  const args = mnistArgs();
  for (const net of Object.keys(NETS) as Net[]) {
    if (options.quick) {
      args.push(`--${net}-steps`, String(NETS[net].quickSteps));
    } else args.push(`--${net}-epochs`, String(NETS[net].epochs));
  }
  const reference = await runReference<EpochReference>(
    "epoch_reference.py",
    options.quick,
    (r) => r.resnet !== undefined,
    args,
  );
  return epochRows(mine, reference);
}

/** Where the reference finds MNIST; none (random data) when it is absent. */
function mnistArgs(): string[] {
  try {
    return ["--mnist-dir", mnistDataFolder()];
  } catch {
    return [];
  }
}

/** The data each net trains on. */
function splits(net: Net): DataSplits {
  if (net !== "resnet") return loadMnist();
  return { train: cifarShaped(CIFAR_EXAMPLES), test: cifarShaped(BATCH) };
}

/**
 * `epochs` epochs (or the first `maxSteps` steps) of `train()`, each timed;
 * the fastest epoch's numbers.
 */
async function epoch(
  net: Net,
  maxSteps: number | undefined,
  epochs: number,
  outDir: string,
): Promise<EpochRun> {
  const timer = epochTimer();
  let weights = NaN;
  let stepsPerEpoch = NaN;
  try {
    const data = splits(net);
    stepsPerEpoch = batchCount(data.train, BATCH, true);
    const result = await train({
      model: (seed) => {
        const model = NETS[net].make(seed);
        weights = model.trainableWeights.reduce((n, w) => n + w.read().size, 0);
        return model;
      },
      data,
      epochs,
      batchSize: BATCH,
      optimizer: sgd({ lr: LR }),
      plugins: [timer.plugin],
      progress: false,
      outDir,
      name: net,
      maxSteps,
      testExamples: BATCH,
      seed: 1,
    });
    result.model.dispose();
    const { examples, seconds } = timer.result();
    return {
      examplesPerSecond: examples / seconds,
      examples,
      seconds,
      steps: Math.min(result.steps, stepsPerEpoch),
      stepsPerEpoch,
      epochs,
      weights,
    };
  } catch (error) {
    return {
      examplesPerSecond: NaN,
      examples: 0,
      seconds: NaN,
      steps: 0,
      stepsPerEpoch,
      epochs,
      weights,
      error: error instanceof Error ? error.message : String(error),
    };
  }
}

/**
 * A plugin that times each epoch from its `epochStart` to the first
 * `evaluationStart` after it (the training steps and their metrics, not
 * the test evaluation), counting the examples trained on in it, and gives
 * the fastest epoch.
 */
function epochTimer(): {
  plugin: Plugin;
  result(): { examples: number; seconds: number };
} {
  let start = NaN;
  let seenAtStart = 0;
  let best = { examples: 0, seconds: NaN };
  return {
    plugin: {
      name: "bench_epoch_timer",
      epochStart(ctx) {
        start = performance.now();
        seenAtStart = ctx.counters.examplesSeen;
      },
      evaluationStart(ctx) {
        if (Number.isNaN(start)) return;
        const seconds = (performance.now() - start) / 1000;
        const examples = ctx.counters.examplesSeen - seenAtStart;
        start = NaN;
        const rate = examples / seconds;
        if (!(rate <= best.examples / best.seconds)) {
          best = { examples, seconds };
        }
      },
    },
    result: () => best,
  };
}

/**
 * The rows of the epoch group, one per net, from fisherlab's runs and the
 * reference's (or why it did not run).
 */
export function epochRows(
  mine: Record<Net, EpochRun>,
  reference: EpochReference | string,
): BenchRow[] {
  const ref = typeof reference === "string" ? undefined : reference;
  return (Object.keys(NETS) as Net[]).map((net) => {
    const m = mine[net];
    const r = ref?.[net];
    const spec = NETS[net];
    const part = m.error
      ? "epoch"
      : m.steps < m.stepsPerEpoch
      ? `first ${m.steps} of ${m.stepsPerEpoch} steps of an epoch`
      : `epoch, ${m.stepsPerEpoch} steps`;
    const pytorch = !ref
      ? reference as string
      : !r
      ? "PyTorch did not time this net"
      : `PyTorch ${ref.torch}, ${r.threads} thread(s) (the faster of ` +
        `${ref.threadCounts.join(" and ")} in a trial): plain loop, ` +
        `${r.examples} ${net === "resnet" ? "random examples" : ref.mnist} ` +
        `in ${r.seconds.toFixed(1)} s` +
        (r.epochs > 1 ? ` (the fastest of ${r.epochs} epochs)` : "");
    const notes = [
      m.error
        ? `fisherlab failed: ${m.error.slice(0, 100)}`
        : `fisherlab train(): ${m.examples} examples in ` +
          `${m.seconds.toFixed(1)} s` +
          (m.epochs > 1 ? ` (the fastest of ${m.epochs} epochs)` : "") +
          ", test evaluation not timed",
      pytorch,
      net === "resnet" ? weightsNote(m.weights, r?.weights) : "",
    ];
    return {
      group: "epoch",
      workload: `${spec.label}, ${spec.data}, ${part}, batch ${BATCH}`,
      unit: "examples/s",
      fisherlab: m.examplesPerSecond,
      reference: r?.examplesPerSecond,
      higherIsBetter: true,
      note: notes.filter((s) => s !== "").join("; "),
      cell: { net: spec.label, workload: "epoch" },
    };
  });
}

if (import.meta.main) {
  const rows = await run({ quick: Deno.args.includes("--quick") });
  const text = JSON.stringify(rows, null, 2) + "\n";
  await Deno.stdout.write(new TextEncoder().encode(text));
}
