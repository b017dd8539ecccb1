import assert from "node:assert/strict";
import { join } from "node:path";
import { tf } from "./tf.ts";
import { train, type TrainOptions } from "./train.ts";
import { PluginError } from "./plugins.ts";
import { sgd } from "./optimizer.ts";
import { Random } from "./random.ts";
import type { Context, Plugin } from "./types.ts";
import { mlp } from "../models/mod.ts";
import { createDataset } from "../datasets/mod.ts";
import type { DataSplits } from "../datasets/types.ts";

/** Two Gaussian blobs per class in 4 dimensions: a task a tiny MLP learns. */
function blobs(n: number, seed: number, name: string) {
  const rng = new Random(seed);
  const x = new Float32Array(n * 4);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    labels[i] = c;
    for (let d = 0; d < 4; d++) {
      x[i * 4 + d] = (d === c ? 2 : 0) + 0.5 * rng.normal();
    }
  }
  return createDataset(x, labels, { shape: [4], numClasses: 3, name });
}

const data: DataSplits = {
  train: blobs(96, 1, "blobs/train"),
  test: blobs(30, 2, "blobs/test"),
};

async function tmp(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "fisherlab-train-" });
}

function options(
  outDir: string,
  extra: Partial<TrainOptions> = {},
): TrainOptions {
  return {
    model: (seed) => mlp({ inputShape: [4], hidden: [8], classes: 3, seed }),
    data,
    epochs: 2,
    batchSize: 32,
    optimizer: sgd({ lr: 0.1, momentum: 0.9 }),
    backend: "cpu",
    outDir,
    progress: false,
    seed: 3,
    ...extra,
  };
}

/** A plugin that records every hook call. */
function spy(calls: string[], name = "spy"): Plugin {
  const hooks = [
    "setup",
    "fitStart",
    "epochStart",
    "batchStart",
    "beforeBackward",
    "afterOptimizerStep",
    "batchEnd",
    "evaluationStart",
    "evaluationEnd",
    "epochEnd",
    "fitEnd",
    "teardown",
  ] as const;
  const plugin: Record<string, unknown> = { name };
  for (const h of hooks) {
    plugin[h] = (ctx: Context) => {
      calls.push(`${name}:${h}:${ctx.counters.epoch}:${ctx.counters.step}`);
    };
  }
  plugin.loss = (_ctx: Context, loss: tf.Scalar) => {
    calls.push(`${name}:loss`);
    return loss;
  };
  plugin.afterBackward = () => {
    calls.push(`${name}:afterBackward`);
  };
  plugin.beforeOptimizerStep = () => {
    calls.push(`${name}:beforeOptimizerStep`);
  };
  plugin.resume = () => {
    calls.push(`${name}:resume`);
    return undefined;
  };
  return plugin as unknown as Plugin;
}

Deno.test("train() calls hooks in the documented order", async () => {
  const calls: string[] = [];
  await train(options(await tmp(), {
    epochs: 1,
    batchSize: 48,
    plugins: [spy(calls)],
  }));
  const names = calls.map((c) => c.split(":")[1]);
  const stepHooks = [
    "batchStart",
    "beforeBackward",
    "loss",
    "afterBackward",
    "beforeOptimizerStep",
    "afterOptimizerStep",
    "batchEnd",
  ];
  assert.deepEqual(names, [
    "setup",
    "resume",
    "fitStart",
    "epochStart",
    ...stepHooks,
    ...stepHooks,
    "evaluationStart",
    "evaluationEnd",
    "epochEnd",
    "fitEnd",
    "teardown",
  ]);
  // The step counter advances after the optimizer step.
  assert.ok(calls.includes("spy:batchStart:0:1"));
  assert.ok(calls.includes("spy:batchEnd:0:2"));
});

Deno.test("train() orders plugins by enforce, then by position", async () => {
  const calls: string[] = [];
  const late = { ...spy(calls, "late"), enforce: "post" as const };
  const early = { ...spy(calls, "early"), enforce: "pre" as const };
  await train(options(await tmp(), {
    epochs: 1,
    batchSize: 96,
    plugins: [late, spy(calls, "middle"), early],
  }));
  const setups = calls.filter((c) => c.includes(":setup:"));
  assert.deepEqual(setups.map((c) => c.split(":")[0]), [
    "early",
    "middle",
    "late",
  ]);
});

Deno.test("train() names the plugin and hook that failed and still runs end hooks", async () => {
  const calls: string[] = [];
  const failing: Plugin = {
    name: "breaks-at-step-2",
    batchStart(ctx) {
      if (ctx.counters.step === 2) throw new Error("boom");
    },
  };
  let seen: unknown;
  const watcher: Plugin = {
    ...spy(calls, "watch"),
    exception(_ctx, error) {
      seen = error;
    },
  };
  const dir = await tmp();
  await assert.rejects(
    train(options(dir, { plugins: [failing, watcher] })),
    (error: unknown) => {
      assert.ok(error instanceof PluginError);
      assert.equal(error.plugin, "breaks-at-step-2");
      assert.equal(error.hook, "batchStart");
      assert.match(error.message, /breaks-at-step-2.*batchStart.*boom/);
      return true;
    },
  );
  assert.ok(seen instanceof PluginError);
  const tail = calls.slice(-2).map((c) => c.split(":")[1]);
  assert.deepEqual(tail, ["fitEnd", "teardown"]);
  // What was written before the failure is kept, and the summary says why.
  const [run] = [...Deno.readDirSync(dir)].map((e) => join(dir, e.name));
  const summary = JSON.parse(Deno.readTextFileSync(join(run, "summary.json")));
  assert.equal(summary.status, "failed");
  assert.match(summary.error, /boom/);
  const lines = Deno.readTextFileSync(join(run, "metrics.jsonl")).trim()
    .split("\n");
  assert.ok(lines.length > 0);
});

Deno.test("train() stops when a plugin asks", async () => {
  const stopper: Plugin = {
    name: "stopper",
    batchEnd(ctx) {
      if (ctx.counters.step === 3) ctx.stop("enough");
    },
  };
  const result = await train(options(await tmp(), {
    epochs: 5,
    plugins: [stopper],
  }));
  assert.equal(result.steps, 3);
  assert.equal(result.stopReason, "enough");
});

Deno.test("train() gives identical metrics for the same seed", async () => {
  const a = await train(options(await tmp()));
  const b = await train(options(await tmp()));
  const c = await train(options(await tmp(), { seed: 4 }));
  const values = (r: typeof a) => r.history.map((m) => `${m.name}=${m.value}`);
  assert.deepEqual(values(a), values(b));
  assert.notDeepEqual(values(a), values(c));
});

Deno.test("train() adds a plugin's loss term to the objective, not to the data loss", async () => {
  // A constant term changes the objective but not the gradient; a term
  // alpha * sum(w^2) changes the update. Check both against plain runs.
  const constantTerm: Plugin = {
    name: "plus-one",
    loss: (_ctx, loss) => tf.add(loss, 1) as tf.Scalar,
  };
  const plain = await train(options(await tmp(), { epochs: 1 }));
  const shifted = await train(options(await tmp(), {
    epochs: 1,
    plugins: [constantTerm],
  }));
  const objective = (r: typeof plain) =>
    r.history.filter((m) => m.name === "train/objective").map((m) => m.value);
  const loss = (r: typeof plain) =>
    r.history.filter((m) => m.name === "train/loss").map((m) => m.value);
  assert.deepEqual(loss(plain), loss(shifted));
  objective(shifted).forEach((v, i) =>
    assert.ok(Math.abs(v - objective(plain)[i] - 1) < 1e-5)
  );
});

Deno.test("train() writes config, metrics and summary to the run folder", async () => {
  const dir = await tmp();
  const result = await train(options(dir, { name: "named-run" }));
  assert.equal(result.dir, join(dir, "named-run"));
  const config = JSON.parse(
    Deno.readTextFileSync(join(result.dir, "config.json")),
  );
  assert.equal(config.seed, 3);
  assert.equal(config.batchSize, 32);
  const records = Deno.readTextFileSync(join(result.dir, "metrics.jsonl"))
    .trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(records.length, result.history.length);
  const steps = records.filter((r) => r.name === "train/loss");
  assert.equal(steps.length, result.steps);
  const summary = JSON.parse(
    Deno.readTextFileSync(join(result.dir, "summary.json")),
  );
  assert.equal(summary.status, "completed");
  assert.equal(summary.metrics["test/acc"], result.metrics["test/acc"]);
  // A second run with the same name does not overwrite the first.
  const again = await train(options(dir, { name: "named-run", epochs: 1 }));
  assert.notEqual(again.dir, result.dir);
});

Deno.test("train() learns the blobs task", async () => {
  const result = await train(options(await tmp(), { epochs: 6 }));
  assert.ok(
    result.metrics["test/acc"] > 0.9,
    `test accuracy ${result.metrics["test/acc"]}`,
  );
});

Deno.test("train() rejects bad options with clear errors", async () => {
  const dir = await tmp();
  await assert.rejects(
    train(options(dir, { epochs: 0 })),
    /Cannot train: epochs is 0/,
  );
  await assert.rejects(
    train(options(dir, { batchSize: 1000 })),
    /batchSize 1000 is larger than the training set "blobs\/train"/,
  );
  await assert.rejects(
    train(options(dir, { plugins: [{ name: "a" }, { name: "a" }] })),
    /two plugins named "a"/,
  );
});

Deno.test("train() leaks no tensors", async () => {
  const model = mlp({ inputShape: [4], hidden: [8], classes: 3, seed: 1 });
  await train(options(await tmp(), { model, epochs: 1 }));
  const before = tf.memory().numTensors;
  await train(options(await tmp(), { model, epochs: 2 }));
  assert.equal(tf.memory().numTensors, before);
});

Deno.test("train() resumed from a checkpoint ends exactly like an uninterrupted run", async () => {
  const { checkpoint } = await import("../plugins/checkpoint.ts");
  const whole = await train(options(await tmp(), {
    epochs: 4,
    plugins: [checkpoint()],
  }));

  const dir = await tmp();
  const interrupt: Plugin = {
    name: "interrupt",
    epochEnd(ctx) {
      if (ctx.counters.epoch === 1) ctx.stop("interrupted");
    },
  };
  const first = await train(options(dir, {
    epochs: 4,
    name: "resumable",
    plugins: [checkpoint(), interrupt],
  }));
  assert.equal(first.stopReason, "interrupted");
  const resumed = await train(options(dir, {
    epochs: 4,
    resume: first.dir,
    plugins: [checkpoint()],
  }));

  assert.equal(resumed.dir, first.dir);
  assert.equal(resumed.steps, whole.steps);
  const series = (r: typeof whole) =>
    r.history.map((m) => `${m.name}@${m.step}=${m.value}`);
  assert.deepEqual(series(resumed), series(whole));
  const lines = Deno.readTextFileSync(join(first.dir, "metrics.jsonl")).trim()
    .split("\n");
  assert.equal(lines.length, whole.history.length);
});

Deno.test("train() refuses to resume from a folder that does not exist", async () => {
  await assert.rejects(
    train(options(await tmp(), { resume: "/nonexistent/run" })),
    /Cannot resume from "\/nonexistent\/run": it is not a run folder/,
  );
});

Deno.test("train() is deterministic on wasm for a conv net", async () => {
  const { simpleCnn } = await import("../models/mod.ts");
  const r = new Random(11);
  const images = (n: number, name: string) =>
    createDataset(
      Float32Array.from({ length: n * 64 }, () => r.next()),
      Int32Array.from({ length: n }, (_, i) => i % 3),
      { shape: [8, 8, 1], numClasses: 3, name },
    );
  const small: DataSplits = {
    train: images(48, "img/train"),
    test: images(16, "img/test"),
  };
  const run = async () =>
    await train(options(await tmp(), {
      model: (seed) =>
        simpleCnn({
          inputShape: [8, 8, 1],
          filters: [4, 8],
          dense: 8,
          classes: 3,
          seed,
        }),
      data: small,
      batchSize: 16,
      backend: "wasm",
    }));
  const a = await run();
  const b = await run();
  const values = (x: typeof a) => x.history.map((m) => m.value);
  assert.deepEqual(values(a), values(b));
  assert.ok(a.history.some((m) => m.name === "train/loss"));
});

Deno.test("train() resuming without a checkpoint plugin says what to add", async () => {
  const first = await train(options(await tmp(), { epochs: 1 }));
  await assert.rejects(
    train(options(await tmp(), { resume: first.dir })),
    /no plugin can load a checkpoint; add checkpoint\(\)/,
  );
});

Deno.test("train() resuming before any checkpoint starts over without duplicate metrics", async () => {
  const { checkpoint } = await import("../plugins/checkpoint.ts");
  const crash: Plugin = {
    name: "crash",
    batchEnd(ctx) {
      if (ctx.counters.step === 2) throw new Error("power cut");
    },
  };
  const dir = await tmp();
  await assert.rejects(
    train(options(dir, { name: "crashed", plugins: [checkpoint(), crash] })),
    /power cut/,
  );
  const resumed = await train(options(dir, {
    resume: join(dir, "crashed"),
    plugins: [checkpoint()],
  }));
  const whole = await train(options(await tmp(), { plugins: [checkpoint()] }));
  const lines = Deno.readTextFileSync(join(resumed.dir, "metrics.jsonl"))
    .trim().split("\n");
  assert.equal(lines.length, whole.history.length);
  assert.deepEqual(
    resumed.history.map((m) => m.value),
    whole.history.map((m) => m.value),
  );
});
