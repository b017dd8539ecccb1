import assert from "node:assert/strict";
import { bestOfRounds, speedup, summary, table } from "./run.ts";
import type { BenchRow } from "./row.ts";

Deno.test("speedup() is above 1 when fisherlab wins, for times and rates", () => {
  const time = {
    group: "g",
    workload: "w",
    unit: "ms",
    fisherlab: 10,
    reference: 30,
  };
  const rate = {
    ...time,
    unit: "ex/s",
    higherIsBetter: true,
    fisherlab: 60,
    reference: 20,
  };
  assert.equal(speedup(time), 3);
  assert.equal(speedup(rate), 3);
  assert.equal(speedup({ ...time, reference: undefined }), undefined);
});

Deno.test("table() renders one row per result with the ratio", () => {
  const out = table([{
    group: "g",
    workload: "w",
    unit: "ms",
    fisherlab: 15,
    reference: 30,
  }]);
  assert.match(out, /\| g \| w \| ms \| 15.0 \| 30.0 \| 2.00 \|/);
});

Deno.test("summary() lists every net and workload in order, '-' where none ran", () => {
  const probe: BenchRow = {
    group: "curvature",
    workload: "Hutchinson probe, ResNet-8, batch 128",
    unit: "ms/example",
    fisherlab: 20,
    reference: 10,
    cell: { net: "ResNet-8", workload: "Tr(H) probe" },
  };
  const epoch: BenchRow = {
    group: "epoch",
    workload: "MLP epoch",
    unit: "examples/s",
    fisherlab: 3000,
    reference: 1000,
    higherIsBetter: true,
    cell: { net: "MLP 784-256-10", workload: "epoch" },
  };
  const lines = summary([probe, epoch]).trim().split("\n").slice(2);
  assert.equal(lines.length, 15);
  assert.match(lines[0], /^\| MLP 784-256-10 \| plain SGD step \| - \| - \|/);
  assert.match(lines[0], /not run \(group "regularizers"\)/);
  assert.match(
    lines[4],
    /^\| MLP 784-256-10 \| epoch \| examples\/s \| 3000 \| 1000 \| 3.00 \|/,
  );
  assert.match(
    lines[12],
    /^\| ResNet-8 \| Tr\(H\) probe \| ms\/example \| 20.0 \| 10.0 \| 0.500 \| curvature: Hutchinson probe, ResNet-8/,
  );
  assert.match(lines[13], /^\| ResNet-8 \| exact Tr\(F\) \| - \|/);
});

Deno.test("summary() is empty when no row fills a cell", () => {
  assert.equal(
    summary([{ group: "data", workload: "w", unit: "ms", fisherlab: 1 }]),
    "",
  );
});

Deno.test("summary() shows '-' for a failed row and no reference", () => {
  const failed: BenchRow = {
    group: "regularizers",
    workload: "SimpleCNN step",
    unit: "ms/step",
    fisherlab: NaN,
    cell: { net: "SimpleCNN", workload: "Fisher-penalty step" },
  };
  const line = summary([failed]).split("\n")[2 + 6];
  assert.equal(
    line,
    "| SimpleCNN | Fisher-penalty step | ms/step | - | - | - | " +
      "regularizers: SimpleCNN step |",
  );
});

Deno.test("bestOfRounds() keeps each side's best number over the rounds", () => {
  const time = (fisherlab: number, reference?: number): BenchRow => ({
    group: "g",
    workload: "step",
    unit: "ms",
    fisherlab,
    reference,
    note: `round with ${fisherlab}`,
  });
  const rate = (fisherlab: number, reference: number): BenchRow => ({
    group: "g",
    workload: "epoch",
    unit: "ex/s",
    higherIsBetter: true,
    fisherlab,
    reference,
  });
  const merged = bestOfRounds([
    [time(12, 9), rate(100, 90)],
    [rate(80, 95), time(10, 11)],
    [time(NaN, undefined)],
  ]);
  assert.equal(merged.length, 2);
  // The least time on each side, from different rounds; NaN never wins.
  assert.equal(merged[0].fisherlab, 10);
  assert.equal(merged[0].reference, 9);
  assert.equal(merged[0].note, "best of 3 rounds; round with 10");
  // The highest rate on each side.
  assert.equal(merged[1].fisherlab, 100);
  assert.equal(merged[1].reference, 95);
  assert.deepEqual(bestOfRounds([[time(5, 6)]]), [time(5, 6)]);
});
