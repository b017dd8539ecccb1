import assert from "node:assert/strict";
import { join } from "node:path";
import { findRuns, readRun, study } from "./study.ts";

interface FakeRun {
  /** Tr(F) per epoch (0-based); logged at steps 10 * epoch, step scope. */
  fisher: number[];
  /** train/acc per epoch, same steps. */
  acc: number[];
  /** Final test accuracy in summary.json. */
  testAcc: number;
}

async function writeRun(parent: string, name: string, run: FakeRun) {
  const dir = join(parent, name);
  await Deno.mkdir(dir, { recursive: true });
  const lines: string[] = [];
  run.fisher.forEach((value, epoch) => {
    const step = 10 * epoch;
    const scope = "step";
    lines.push(
      JSON.stringify({ name: "fisher/trace", value, step, epoch, scope }),
    );
    const acc = run.acc[epoch];
    lines.push(
      JSON.stringify({ name: "train/acc", value: acc, step, epoch, scope }),
    );
  });
  lines.push(JSON.stringify({
    name: "test/acc",
    value: 0,
    step: 99,
    epoch: 9,
    scope: "epoch",
  }));
  await Deno.writeTextFile(join(dir, "metrics.jsonl"), lines.join("\n") + "\n");
  await Deno.writeTextFile(
    join(dir, "config.json"),
    JSON.stringify({ name, lr: 0.1 }),
  );
  await Deno.writeTextFile(
    join(dir, "summary.json"),
    JSON.stringify({
      status: "completed",
      metrics: { "test/acc": run.testAcc },
    }),
  );
  return dir;
}

Deno.test("study() relates early Tr(F) to final test accuracy", async () => {
  const parent = await Deno.makeTempDir();
  // Early peaks (epochs 0-1) 1..5 with test accuracy falling linearly: r =
  // rho = -1. Later epochs hold a large value that must not count.
  const peaks = [1, 2, 3, 4, 5];
  for (const [i, peak] of peaks.entries()) {
    await writeRun(parent, `run${i}`, {
      fisher: [peak / 2, peak, 50 + i * (i % 2 ? -7 : 7)],
      acc: [0.3, 0.6, 0.9],
      testAcc: 0.9 - 0.05 * peak,
    });
  }
  await Deno.mkdir(join(parent, "not-a-run"));
  const dirs = await findRuns(parent);
  assert.equal(dirs.length, 5);

  const early = await study(dirs, {
    statistic: { metric: "fisher/trace", reduce: "max", epochs: 2 },
    resamples: 200,
  });
  assert.deepEqual(early.runs.map((r) => r.statistic), peaks);
  assert.ok(Math.abs(early.pearson.r + 1) < 1e-12);
  assert.equal(early.spearman.r, -1);
  assert.ok(Math.abs(early.pearson.low + 1) < 1e-12);
  assert.ok(Math.abs(early.spearman.high + 1) < 1e-12);
  assert.equal(early.runs[0].config.lr, 0.1);

  // Tr(F) when train/acc first reaches 0.5: the epoch-1 value, the peak.
  const threshold = await study(dirs, {
    statistic: {
      metric: "fisher/trace",
      when: { metric: "train/acc", atLeast: 0.5 },
    },
    resamples: 50,
  });
  assert.deepEqual(threshold.runs.map((r) => r.statistic), peaks);

  // Over the whole run, the late values decide: 50, 43, 64, 29, 78 (hand-
  // ranked 3, 2, 4, 1, 5 against test accuracy ranks 5, 4, 3, 2, 1).
  const whole = await study(dirs, { resamples: 50 });
  assert.deepEqual(
    whole.runs.map((r) => r.statistic),
    [50, 43, 64, 29, 78],
  );
  // d = rank differences 2, 2, -1, 1, -4 -> rho = 1 - 6 * 26 / 120 = -0.3.
  assert.ok(Math.abs(whole.spearman.r - -0.3) < 1e-12);
  await Deno.remove(parent, { recursive: true });
});

Deno.test("study() skips runs without the metrics and says why", async () => {
  const parent = await Deno.makeTempDir();
  const a = await writeRun(parent, "a", {
    fisher: [1],
    acc: [0.2],
    testAcc: 0.5,
  });
  const b = await writeRun(parent, "b", {
    fisher: [2],
    acc: [0.2],
    testAcc: 0.4,
  });
  const missing = join(parent, "missing");
  const result = await study([a, b, missing], {
    statistic: {
      metric: "fisher/trace",
      when: { metric: "train/acc", atLeast: 0.9 },
    },
  });
  assert.equal(result.runs.length, 0);
  assert.equal(result.skipped.length, 3);
  assert.match(result.skipped[2].reason, /metrics.jsonl" is missing/);
  assert.ok(Number.isNaN(result.pearson.r));

  const custom = await study([a, b], {
    statistic: (run) => run.records.length,
    target: "test/acc",
  });
  assert.deepEqual(custom.runs.map((r) => r.target), [0.5, 0.4]);
  await Deno.writeTextFile(join(a, "metrics.jsonl"), "{oops\n");
  await assert.rejects(() => readRun(a), /line 1 of metrics.jsonl is not JSON/);
  await Deno.remove(parent, { recursive: true });
});
