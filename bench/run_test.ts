import assert from "node:assert/strict";
import { speedup, table } from "./run.ts";

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
