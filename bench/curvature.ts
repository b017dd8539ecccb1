/**
 * The cost of curvature measurements, per example, in fisherlab and in
 * PyTorch on the same machine (bench/curvature_reference.py):
 *
 * - exact Tr(F) (per-example gradients for every class);
 * - mini-batch Tr(F) (one backward pass with sampled labels);
 * - one Hutchinson probe (one Hessian-vector product, v^T H v);
 * - one power-iteration step (one Hessian-vector product and a
 *   normalization), each from the vector the step before left.
 *
 * On an MLP 784-256-10 (ReLU) and the SimpleCNN of models/simple_cnn.ts at
 * batch 128 on MNIST shapes, and the ResNet-8 of models/resnet.ts at batch
 * 128 on CIFAR shapes (32x32x3), wasm backend. Batch norm uses its running
 * statistics (`bn: "running"`; PyTorch: eval mode). fisherTrace says how
 * it computed the per-example gradient norms (batched, or a loop of one
 * backward pass per example and class); the note carries it. Exact Tr(F)
 * runs on 16 examples of the CNN in quick mode, and on 8 (quick) or 32
 * examples of the ResNet. Both sides time each workload in its steady state
 * (`steadyMedianMs`: a quarter second of warm-up, then at least the repeats
 * and a quarter second), so that the first calls' compiling and allocating
 * do not decide the fast workloads. The probe and exact Tr(F) rows fill
 * the per-net summary. A workload that fails (e.g. a missing second-order
 * kernel) becomes a row with the error as its note.
 *
 * Run alone: `deno run -A bench/curvature.ts [--quick]` prints the rows as
 * JSON.
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import type { LayersModel } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { Random } from "../core/random.ts";
import { mlp } from "../models/mlp.ts";
import { resnet } from "../models/resnet.ts";
import { simpleCnn } from "../models/simple_cnn.ts";
import type { BatchNormMode } from "../evaluators/curvature_options.ts";
import { fisherTrace } from "../evaluators/fisher_trace.ts";
import { lossHessian } from "../evaluators/hessian_operator.ts";
import { hutchinsonTrace } from "../evaluators/hessian_trace.ts";
import { powerIteration } from "../evaluators/sharpness.ts";
import { randomUnitVector } from "../evaluators/_start.ts";
import { runReference, steadyMedianMs, weightsNote } from "./_measure.ts";
import type { BenchRow, SummaryNet } from "./row.ts";

const BATCH = 128;

/** Per-example milliseconds of each workload on one network. */
interface Costs {
  exactMs: number;
  exactExamples: number;
  minibatchMs: number;
  probeMs: number;
  powerMs: number;
  /** Trainable weights of the net. */
  weights: number;
  /** How fisherTrace computed per-example norms ("batched" or "loop"). */
  perExample?: string;
  error?: string;
}

type Net = "mlp" | "cnn" | "resnet";

/** One net's reference costs, with the thread count each was fastest on. */
interface ReferenceCosts extends Costs {
  threads: Record<"exactMs" | "minibatchMs" | "probeMs" | "powerMs", number>;
}

/** What bench/curvature_reference.py prints. */
interface Reference extends Record<Net, ReferenceCosts> {
  torch: string;
  threadCounts: number[];
  perExample: string;
}

const LABELS: Record<Net, SummaryNet> = {
  mlp: "MLP 784-256-10",
  cnn: "SimpleCNN",
  resnet: "ResNet-8",
};

/** Times the workloads; see the module documentation. */
export async function run(options: { quick: boolean }): Promise<BenchRow[]> {
  await useBackend("wasm");
  const repeats = options.quick ? 2 : 5;
  const x = tf.randomNormal([BATCH, 28, 28, 1], 0, 1, "float32", 1);
  const y = tf.randomUniform([BATCH], 0, 10, "int32", 2);
  const flat = tf.reshape(x, [BATCH, 784]);
  const mlpModel = mlp({ inputShape: [784], hidden: [256], classes: 10 });
  const cnnModel = simpleCnn({ seed: 1 });
  const mlpCosts = await costs(mlpModel, { x: flat, y }, {
    repeats,
    exactExamples: BATCH,
  });
  const cnnCosts = await costs(cnnModel, { x, y }, {
    repeats,
    exactExamples: options.quick ? 16 : BATCH,
  });
  tf.dispose([x, y, flat]);
  mlpModel.dispose();
  cnnModel.dispose();

  const images = tf.randomNormal([BATCH, 32, 32, 3], 0, 1, "float32", 3);
  const labels = tf.randomUniform([BATCH], 0, 10, "int32", 4);
  const resnetModel = resnet({ seed: 1 });
  const resnetCosts = await costs(resnetModel, { x: images, y: labels }, {
    repeats,
    exactExamples: options.quick ? 8 : 32,
    bn: "running",
  });
  tf.dispose([images, labels]);
  resnetModel.dispose();

  const reference = await runReference<Reference>(
    "curvature_reference.py",
    options.quick,
    (r) => r.resnet !== undefined,
  );
  return rows({ mlp: mlpCosts, cnn: cnnCosts, resnet: resnetCosts }, reference);
}

/** How {@linkcode costs} times one net. */
interface CostOptions {
  repeats: number;
  /** The examples exact Tr(F) runs on (the first of the batch). */
  exactExamples: number;
  /** Batch norm in every workload. Default "batch" (no effect without). */
  bn?: BatchNormMode;
}

async function costs(
  model: LayersModel,
  data: { x: tf.Tensor; y: tf.Tensor },
  options: CostOptions,
): Promise<Costs> {
  const { repeats, exactExamples, bn } = options;
  const n = data.y.shape[0]!;
  const errors: string[] = [];
  // Each workload is timed on its own, so one failure leaves the others.
  const timed = async (work: () => Promise<unknown>, per: number) => {
    try {
      return await steadyMedianMs(work, repeats) / per;
    } catch (error) {
      errors.push(error instanceof Error ? error.message : String(error));
      return NaN;
    }
  };
  const exactData = {
    x: tf.slice(data.x, 0, exactExamples),
    y: tf.slice(data.y, 0, exactExamples),
  };
  let perExample: string | undefined;
  const exactMs = await timed(async () => {
    const result = await fisherTrace(model, exactData, {
      empirical: false,
      bn,
    });
    perExample = result.perExample;
  }, exactExamples);
  tf.dispose([exactData.x, exactData.y]);
  const random = new Random(0);
  const minibatchMs = await timed(
    () =>
      fisherTrace(model, data, {
        mode: "mini-batch",
        empirical: false,
        random,
        bn,
      }),
    n,
  );
  const op = lossHessian(model, data, { bn });
  const probeMs = await timed(
    () => hutchinsonTrace(op, { maxProbes: 1, random }),
    n,
  );
  // One step from the vector the last one left, as the reference keeps
  // its v between steps: drawing a start vector is not part of a step.
  let vector = randomUnitVector(op.dim, random);
  const powerMs = await timed(async () => {
    const step = await powerIteration(op, { maxIterations: 1, start: vector });
    vector = step.vector;
  }, n);
  op.dispose();
  return {
    exactMs,
    exactExamples,
    minibatchMs,
    probeMs,
    powerMs,
    weights: model.trainableWeights.reduce((s, w) => s + w.read().size, 0),
    perExample,
    ...(errors.length > 0 ? { error: [...new Set(errors)].join("; ") } : {}),
  };
}

function rows(
  mine: Record<Net, Costs>,
  reference: Reference | string,
): BenchRow[] {
  const ref = typeof reference === "string" ? undefined : reference;
  // PyTorch runs each workload under the faster of its thread counts.
  const refNote = (net: Net, key: keyof ReferenceCosts["threads"]) =>
    ref
      ? `torch ${ref.torch}, ${ref[net].threads[key]} thread(s), the ` +
        `faster of ${ref.threadCounts.join(" and ")}`
      : reference as string;
  const out: BenchRow[] = [];
  for (const net of ["mlp", "cnn", "resnet"] as const) {
    const label = LABELS[net];
    const m = mine[net];
    const r = ref?.[net];
    const failed = m.error ? `fisherlab failed: ${m.error.slice(0, 100)}` : "";
    const bn = net === "resnet"
      ? "batch norm on running statistics (PyTorch eval mode)"
      : "";
    const note = (key: keyof ReferenceCosts["threads"], ...extra: string[]) =>
      [failed, ...extra, bn, refNote(net, key)].filter((s) => s !== "")
        .join("; ");
    const weights = net === "resnet" ? weightsNote(m.weights, r?.weights) : "";
    out.push(
      {
        group: "curvature",
        workload: `exact Tr(F), ${label}, ${m.exactExamples} examples`,
        unit: "ms/example",
        fisherlab: m.exactMs,
        reference: r?.exactMs,
        note: note(
          "exactMs",
          `fisherlab: ${m.perExample ?? "-"} per-example norms; ` +
            `PyTorch: ${ref?.perExample ?? "-"}` +
            (r && r.exactExamples !== m.exactExamples
              ? ` on ${r.exactExamples} examples`
              : ""),
          weights,
        ),
        cell: { net: label, workload: "exact Tr(F)" },
      },
      {
        group: "curvature",
        workload: `mini-batch Tr(F), ${label}, batch ${BATCH}`,
        unit: "ms/example",
        fisherlab: m.minibatchMs,
        reference: r?.minibatchMs,
        note: note("minibatchMs"),
      },
      {
        group: "curvature",
        workload: `Hutchinson probe, ${label}, batch ${BATCH}`,
        unit: "ms/example",
        fisherlab: m.probeMs,
        reference: r?.probeMs,
        note: note("probeMs", "one Hessian-vector product"),
        cell: { net: label, workload: "Tr(H) probe" },
      },
      {
        group: "curvature",
        workload: `power-iteration step, ${label}, batch ${BATCH}`,
        unit: "ms/example",
        fisherlab: m.powerMs,
        reference: r?.powerMs,
        note: note("powerMs"),
      },
    );
  }
  return out;
}

if (import.meta.main) {
  const rows = await run({ quick: Deno.args.includes("--quick") });
  // deno-lint-ignore no-console -- a command-line entry point prints JSON
  console.log(JSON.stringify(rows, null, 2));
}
