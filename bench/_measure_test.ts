import assert from "node:assert/strict";
import {
  median,
  STEADY,
  steadyMedianMs,
  steadyTimes,
  weightsNote,
} from "./_measure.ts";

Deno.test("median() takes the middle value, or the mean of the middle two", () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
});

Deno.test("weightsNote() is empty without a reference and warns on a mismatch", () => {
  assert.equal(weightsNote(78042), "");
  assert.equal(
    weightsNote(78042, 78042),
    "78,042 trainable weights on both sides",
  );
  assert.match(weightsNote(78042, 78714), /^NOT THE SAME NET: 78,042 .*78,714/);
});

Deno.test("steadyMedianMs() warms up and then times at least the repeats, at most maxCalls each", async () => {
  // Instant work never fills the quarter seconds: both phases run to the cap.
  let calls = 0;
  const ms = await steadyMedianMs(() => calls++, 3);
  assert.equal(calls, 2 * STEADY.maxCalls);
  assert.ok(ms >= 0 && Number.isFinite(ms));
});

Deno.test("steadyTimes() calls its workloads in turn and times as many of each", async () => {
  const order: string[] = [];
  const t = await steadyTimes(
    [() => order.push("a"), () => order.push("b")],
    3,
  );
  // Instant work: both phases run to the cap, always a then b.
  assert.equal(order.length, 4 * STEADY.maxCalls);
  assert.ok(order.every((c, i) => c === (i % 2 === 0 ? "a" : "b")));
  assert.equal(t[0].length, STEADY.maxCalls);
  assert.equal(t[1].length, STEADY.maxCalls);
});
