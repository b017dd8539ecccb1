import assert from "node:assert/strict";
import { ColumnCache } from "./_column_cache.ts";

Deno.test("ColumnCache keeps columns per dataId and key", () => {
  const cache = new ColumnCache(1024);
  const a = {};
  const col = cache.allocate(16);
  col.fill(3);
  cache.put(a, "k", col);
  assert.equal(cache.get(a, "k"), col);
  assert.equal(cache.get(a, "other"), undefined);
  assert.equal(cache.get({}, "k"), undefined);
  assert.equal(cache.hits, 1);
});

Deno.test("ColumnCache evicts the least recently used first", () => {
  const cache = new ColumnCache(4 * 100);
  const [a, b, c] = [{}, {}, {}];
  cache.put(a, "k", cache.allocate(40));
  cache.put(b, "k", cache.allocate(40));
  cache.get(a, "k");
  const reused = cache.allocate(40);
  cache.put(c, "k", reused);
  assert.ok(cache.get(a, "k"));
  assert.equal(cache.get(b, "k"), undefined);
  assert.ok(cache.get(c, "k"));
  assert.equal(cache.fits(101), false);
  assert.equal(cache.fits(100), true);
});

Deno.test("ColumnCache with no budget keeps nothing", () => {
  const cache = new ColumnCache(0);
  assert.equal(cache.fits(1), false);
});

Deno.test("ColumnCache drops entries whose data is gone first", () => {
  const cache = new ColumnCache(4 * 100);
  const [a, b] = [{}, {}];
  const first = cache.allocate(40);
  cache.put(a, "k", first);
  cache.put(b, "k", cache.allocate(40));
  const again = cache.allocate(40, (id) => id !== a);
  assert.equal(again.buffer, first.buffer, "the dead entry's buffer is reused");
  assert.equal(cache.get(a, "k"), undefined);
  assert.ok(cache.get(b, "k"));
});

Deno.test("ColumnCache reuses the smallest spare buffer that is long enough", () => {
  const cache = new ColumnCache(4 * 1000);
  const [a, b, c] = [{}, {}, {}];
  const big = cache.allocate(300);
  cache.put(a, "k", big);
  const small = cache.allocate(100);
  cache.put(b, "k", small);
  const gone = () => false;
  const view = cache.allocate(90, gone);
  assert.equal(view.length, 90);
  assert.equal(view.buffer, small.buffer, "best fit: the 100-float buffer");
  cache.put(c, "k", view);
  assert.equal(cache.get(c, "k"), view);
  const next = cache.allocate(200, (id) => id === c);
  assert.equal(next.buffer, big.buffer, "the 300-float buffer is still spare");
});

Deno.test("ColumnCache counts spare buffers against the budget, freeing them first", () => {
  const cache = new ColumnCache(4 * 100);
  const [a, b] = [{}, {}];
  const first = cache.allocate(60);
  cache.put(a, "k", first);
  // a's data is gone: its 60 floats become spare, and a 70-float buffer
  // needs them freed (60 + 70 > 100), not the new entry b.
  const second = cache.allocate(70, () => false);
  assert.notEqual(second.buffer, first.buffer);
  cache.put(b, "k", second);
  assert.ok(cache.get(b, "k"));
  // Another 40 do not fit beside b's 70: b, the oldest entry, goes.
  cache.allocate(40);
  assert.equal(cache.get(b, "k"), undefined);
});
