import assert from "node:assert/strict";
import { checkSchedule, isDue } from "./eval_schedule.ts";

Deno.test("isDue() is dense early and sparse later", () => {
  const s = { every: 50, denseUntil: 100, denseEvery: 10 };
  const due = Array.from({ length: 301 }, (_, i) => i).filter((i) =>
    isDue(s, i)
  );
  assert.deepEqual(
    due,
    [10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 150, 200, 250, 300],
  );
  assert.equal(isDue({}, 10), false);
  assert.equal(isDue({ every: 5 }, 0), false);
  assert.deepEqual(
    [1, 2, 3, 4, 6, 9].filter((i) =>
      isDue({ denseUntil: 4, denseEvery: 1 }, i)
    ),
    [1, 2, 3, 4],
  );
});

Deno.test("checkSchedule() names the bad field", () => {
  assert.throws(
    () => checkSchedule({ every: 2.5 }),
    /Cannot schedule an evaluator: every is "2.5"/,
  );
  assert.throws(() => checkSchedule({ denseEvery: -1 }), /denseEvery is "-1"/);
  checkSchedule({ every: 0, denseUntil: 10, denseEvery: 2 });
});
