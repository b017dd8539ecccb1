/**
 * The cost of curvature measurements, per example, in fisherlab and in
 * PyTorch on the same machine (bench/curvature_reference.py):
 *
 * - exact Tr(F) (per-example gradients for every class);
 * - mini-batch Tr(F) (one backward pass with sampled labels);
 * - one Hutchinson probe (one Hessian-vector product, v^T H v);
 * - one power-iteration step (one Hessian-vector product and a
 *   normalization).
 *
 * On an MLP 784-256-10 (ReLU) and the SimpleCNN of models/simple_cnn.ts at
 * batch 128 on MNIST shapes, wasm backend. fisherlab's exact Tr(F) computes
 * per-example gradient norms batched (outer products for dense layers,
 * im2col for convolutions); on the CNN it runs on 16 examples in quick
 * mode. A workload that fails (e.g. a missing second-order kernel) becomes
 * a row with the error as its note.
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
import { simpleCnn } from "../models/simple_cnn.ts";
import { fisherTrace } from "../evaluators/fisher_trace.ts";
import { lossHessian } from "../evaluators/hessian_operator.ts";
import { hutchinsonTrace } from "../evaluators/hessian_trace.ts";
import { powerIteration } from "../evaluators/sharpness.ts";
import { medianMs, runReference } from "./_measure.ts";
import type { BenchRow } from "./row.ts";

const BATCH = 128;

/** Per-example milliseconds of each workload on one network. */
interface Costs {
  exactMs: number;
  exactExamples: number;
  minibatchMs: number;
  probeMs: number;
  powerMs: number;
  error?: string;
}

/** What bench/curvature_reference.py prints. */
interface Reference {
  torch: string;
  threads: number;
  perExample: string;
  mlp: Costs;
  cnn: Costs;
}

/** Times the workloads; see the module documentation. */
export async function run(options: { quick: boolean }): Promise<BenchRow[]> {
  await useBackend("wasm");
  const repeats = options.quick ? 2 : 5;
  const x = tf.randomNormal([BATCH, 28, 28, 1], 0, 1, "float32", 1);
  const y = tf.randomUniform([BATCH], 0, 10, "int32", 2);
  const flat = tf.reshape(x, [BATCH, 784]);
  const mlpModel = mlp({ inputShape: [784], hidden: [256], classes: 10 });
  const cnnModel = simpleCnn({ seed: 1 });
  const mine = {
    mlp: await costs(mlpModel, { x: flat, y }, repeats, BATCH),
    cnn: await costs(cnnModel, { x, y }, repeats, options.quick ? 16 : BATCH),
  };
  tf.dispose([x, y, flat]);
  mlpModel.dispose();
  cnnModel.dispose();
  const reference = await runReference<Reference>(
    "curvature_reference.py",
    options.quick,
    (r) => r.mlp !== undefined,
  );
  return rows(mine, reference);
}

async function costs(
  model: LayersModel,
  data: { x: tf.Tensor; y: tf.Tensor },
  repeats: number,
  exactExamples: number,
): Promise<Costs> {
  const n = data.y.shape[0]!;
  const errors: string[] = [];
  // Each workload is timed on its own, so one failure leaves the others.
  const timed = async (work: () => Promise<unknown>, per: number) => {
    try {
      return await medianMs(work, repeats) / per;
    } catch (error) {
      errors.push(error instanceof Error ? error.message : String(error));
      return NaN;
    }
  };
  const exactData = {
    x: tf.slice(data.x, 0, exactExamples),
    y: tf.slice(data.y, 0, exactExamples),
  };
  const exactMs = await timed(
    () => fisherTrace(model, exactData, { empirical: false }),
    exactExamples,
  );
  tf.dispose([exactData.x, exactData.y]);
  const random = new Random(0);
  const minibatchMs = await timed(
    () =>
      fisherTrace(model, data, {
        mode: "mini-batch",
        empirical: false,
        random,
      }),
    n,
  );
  const op = lossHessian(model, data);
  const probeMs = await timed(
    () => hutchinsonTrace(op, { maxProbes: 1, random }),
    n,
  );
  const powerMs = await timed(
    () => powerIteration(op, { maxIterations: 1, random }),
    n,
  );
  op.dispose();
  return {
    exactMs,
    exactExamples,
    minibatchMs,
    probeMs,
    powerMs,
    ...(errors.length > 0 ? { error: [...new Set(errors)].join("; ") } : {}),
  };
}

function rows(
  mine: { mlp: Costs; cnn: Costs },
  reference: Reference | string,
): BenchRow[] {
  const ref = typeof reference === "string" ? undefined : reference;
  const refNote = ref
    ? `torch ${ref.torch}, ${ref.threads} thread(s)`
    : reference as string;
  const out: BenchRow[] = [];
  const nets = [
    ["mlp", "MLP 784-256-10"],
    ["cnn", "SimpleCNN"],
  ] as const;
  for (const [key, label] of nets) {
    const m = mine[key];
    const r = ref?.[key];
    const failed = m.error ? `fisherlab failed: ${m.error.slice(0, 100)}` : "";
    const note = (extra: string) =>
      [failed, extra, refNote].filter((s) => s !== "").join("; ");
    const exactHow = key === "mlp"
      ? "fisherlab: batched dense per-example norms"
      : "fisherlab: batched im2col per-example norms";
    out.push(
      {
        group: "curvature",
        workload: `exact Tr(F), ${label}, ${m.exactExamples} examples`,
        unit: "ms/example",
        fisherlab: m.exactMs,
        reference: r?.exactMs,
        note: note(
          `${exactHow}; PyTorch: ${ref?.perExample ?? "-"}` +
            (r && r.exactExamples !== m.exactExamples
              ? ` on ${r.exactExamples} examples`
              : ""),
        ),
      },
      {
        group: "curvature",
        workload: `mini-batch Tr(F), ${label}, batch ${BATCH}`,
        unit: "ms/example",
        fisherlab: m.minibatchMs,
        reference: r?.minibatchMs,
        note: note(""),
      },
      {
        group: "curvature",
        workload: `Hutchinson probe, ${label}, batch ${BATCH}`,
        unit: "ms/example",
        fisherlab: m.probeMs,
        reference: r?.probeMs,
        note: note("one Hessian-vector product"),
      },
      {
        group: "curvature",
        workload: `power-iteration step, ${label}, batch ${BATCH}`,
        unit: "ms/example",
        fisherlab: m.powerMs,
        reference: r?.powerMs,
        note: note(""),
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
