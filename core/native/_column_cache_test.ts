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
  assert.equal(again, first);
  assert.equal(cache.get(a, "k"), undefined);
  assert.ok(cache.get(b, "k"));
});
