// deno-lint-ignore-file no-console -- a command-line program prints its report
/**
 * Finding 5 of the paper: with noisy labels, the Fisher penalty slows the
 * fitting of the noisy examples more than the learning of the clean ones.
 *
 * Corrupts a fraction of an MNIST subset's labels (symmetric noise, exact
 * count), trains with and without the Fisher penalty from the same seed,
 * and prints per epoch the training accuracy of the noisy examples against
 * their noisy labels and of the clean examples against theirs.
 *
 * `deno run -A examples/noisy_labels.ts [--examples 5000] [--noise 0.4]
 * [--epochs 10] [--lr 0.05] [--alpha 0.5] [--out runs/noisy]`
 *
 * @module
 */
import { parseArgs } from "node:util";
import {
  firstN,
  fisherPenalty,
  labelNoise,
  loadMnist,
  memorizationMonitor,
  type MetricRecord,
  mlp,
  Random,
  sgd,
  train,
} from "../mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    examples: { type: "string", default: "5000" },
    noise: { type: "string", default: "0.4" },
    epochs: { type: "string", default: "10" },
    lr: { type: "string", default: "0.05" },
    alpha: { type: "string", default: "0.5" },
    out: { type: "string", default: "runs/noisy" },
    seed: { type: "string", default: "1" },
  },
});
const seed = Number(values.seed);
const full = loadMnist();
const train0 = firstN(full.train, Number(values.examples));
const noisy = labelNoise(train0, {
  kind: "symmetric",
  fraction: Number(values.noise),
  rng: new Random(seed).fork("label-noise"),
});
const data = { train: noisy, test: firstN(full.test, 2000) };
const corrupted = noisy.noisy.reduce((a, b) => a + b, 0);
console.log(
  `${corrupted} of ${noisy.length} training labels corrupted ` +
    `(${values.noise} symmetric noise)\n`,
);

const histories: Record<string, MetricRecord[]> = {};
for (const alpha of [0, Number(values.alpha)]) {
  const label = alpha === 0 ? "plain" : `FP ${alpha}`;
  const result = await train({
    model: (s) => mlp({ inputShape: [28, 28, 1], hidden: [512], seed: s }),
    data,
    epochs: Number(values.epochs),
    optimizer: sgd({ lr: Number(values.lr) }),
    seed,
    outDir: values.out,
    name: `noise${values.noise}-fp${alpha}`,
    plugins: [
      memorizationMonitor({ threshold: 0.9 }),
      ...(alpha > 0 ? [fisherPenalty({ alpha })] : []),
    ],
    config: { alpha, noise: Number(values.noise) },
  });
  histories[label] = result.history;
}

const series = (h: MetricRecord[], name: string) =>
  h.filter((r) => r.name === name).map((r) => r.value);
const labels = Object.keys(histories);
console.log(
  "epoch | " + labels.map((l) => `${l}: noisy / clean / test`.padEnd(30))
    .join(" | "),
);
for (let e = 0; e < Number(values.epochs); e++) {
  const cells = labels.map((l) => {
    const h = histories[l];
    const pct = (v: number | undefined) =>
      v === undefined ? "   -  " : `${(v * 100).toFixed(1).padStart(5)}%`;
    return `${pct(series(h, "memo/noisy_acc")[e])} / ` +
      `${pct(series(h, "memo/clean_acc")[e])} / ` +
      `${
        pct(
          h.filter((r) => r.name === "test/acc" && r.scope === "epoch")[e]
            ?.value,
        )
      }`
        .padEnd(30);
  });
  console.log(`${String(e + 1).padStart(5)} | ${cells.join(" | ")}`);
}
