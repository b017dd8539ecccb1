// deno-lint-ignore-file no-console -- a command-line program prints its report
/**
 * A sweep that tests findings 3, 4 and 6 of the paper at laptop scale.
 *
 * Trains one model per (learning rate, Fisher penalty) pair on an MNIST
 * subset, measuring Tr(F) densely early in training, and Tr(H) and
 * lambda_max at the end. Then relates the early peak of Tr(F) to final test
 * accuracy and to final Tr(H) across the runs (Pearson and Spearman with
 * bootstrap intervals).
 *
 * `deno run -A examples/sweep.ts [--model mlp|cnn] [--examples 10000]
 * [--epochs 3] [--lrs 0.003,0.01,0.03,0.1] [--alpha 0.1] [--out runs/sweep]`
 *
 * Runs already finished in `--out` are reused, so an interrupted sweep
 * continues where it stopped.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import {
  firstN,
  fisherPenalty,
  fisherTraceMonitor,
  hessianTraceMonitor,
  loadMnist,
  type MetricRecord,
  mlp,
  type Plugin,
  sgd,
  sharpnessMonitor,
  simpleCnn,
  study,
  train,
} from "../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    model: { type: "string", default: "mlp" },
    examples: { type: "string", default: "10000" },
    epochs: { type: "string", default: "3" },
    lrs: { type: "string", default: "0.003,0.01,0.03,0.1" },
    alpha: { type: "string", default: "0.1" },
    out: { type: "string", default: "runs/sweep" },
    seed: { type: "string", default: "1" },
  },
});
const epochs = Number(values.epochs);
const seed = Number(values.seed);
const lrs = values.lrs!.split(",").map(Number);
const alphas = [0, Number(values.alpha)];
if (!["mlp", "cnn"].includes(values.model!)) {
  console.error(
    `Cannot run the sweep: --model "${values.model}"; use mlp or cnn`,
  );
  Deno.exit(2);
}

const full = loadMnist();
const data = {
  train: firstN(full.train, Number(values.examples)),
  test: firstN(full.test, 2000),
};
const build = values.model === "cnn"
  ? (s: number) => simpleCnn({ seed: s })
  : (s: number) => mlp({ inputShape: [28, 28, 1], hidden: [256], seed: s });

const dirs: string[] = [];
for (const lr of lrs) {
  for (const alpha of alphas) {
    const name = `${values.model}-lr${lr}-fp${alpha}`;
    const dir = join(values.out!, name);
    const done = await Deno.readTextFile(join(dir, "summary.json"))
      .then((t) => JSON.parse(t).status === "completed", () => false);
    dirs.push(dir);
    if (done) {
      console.log(`${name}: already done, reused`);
      continue;
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    const last = { every: 0, atStart: false, epochEnd: true };
    const plugins: Plugin[] = [
      fisherTraceMonitor({
        mode: "mini-batch",
        samples: 4,
        empirical: false,
        schedule: { every: 100, denseUntil: 200, denseEvery: 20 },
      }),
      hessianTraceMonitor({ maxProbes: 30, schedule: last }),
      sharpnessMonitor({ schedule: last }),
    ];
    if (alpha > 0) plugins.push(fisherPenalty({ alpha }));
    console.log(`== ${name}`);
    await train({
      model: build,
      data,
      epochs,
      optimizer: sgd({ lr }),
      seed,
      outDir: values.out,
      name,
      plugins,
      config: { lr, alpha },
    });
  }
}

// The early peak: the largest Tr(F) after the first step and within the
// first epoch (at step 0 every run has the same weights).
const early = (run: { records: MetricRecord[] }) => {
  const values = run.records
    .filter((r) => r.name === "fisher/trace" && r.step > 0 && r.epoch < 1)
    .map((r) => r.value);
  return values.length > 0 ? Math.max(...values) : undefined;
};
const acc = await study(dirs, { statistic: early, target: "test/acc" });
const flat = await study(dirs, { statistic: early, target: "hessian/trace" });

console.log("\n  lr      alpha  peak Tr(F) ep.1  test acc   Tr(H) end");
for (const run of acc.runs) {
  const h = flat.runs.find((r) => r.dir === run.dir)?.target;
  console.log(
    `  ${String(run.config.lr).padEnd(7)} ${
      String(run.config.alpha).padEnd(6)
    }` +
      ` ${run.statistic.toFixed(2).padStart(14)}  ${
        (run.target * 100).toFixed(2).padStart(7)
      }%` +
      `  ${h === undefined ? "-" : h.toFixed(2).padStart(9)}`,
  );
}
const show = (label: string, r: typeof acc) =>
  console.log(
    `${label}: Pearson ${r.pearson.r.toFixed(2)} [${
      r.pearson.low.toFixed(2)
    }, ` +
      `${r.pearson.high.toFixed(2)}], Spearman ${r.spearman.r.toFixed(2)} ` +
      `[${r.spearman.low.toFixed(2)}, ${r.spearman.high.toFixed(2)}] ` +
      `over ${r.runs.length} runs`,
  );
console.log("");
show("early peak Tr(F) vs final test accuracy (paper: negative)", acc);
show("early peak Tr(F) vs final Tr(H) (paper: positive)", flat);
for (const s of [...acc.skipped]) console.log(`skipped ${s.dir}: ${s.reason}`);
