import assert from "node:assert/strict";
import { Random } from "../core/random.ts";
import { createDataset } from "./create_dataset.ts";
import { channelStats, normalize } from "./normalize.ts";

/** n images of shape [h, w, c] with distinct seeded values in (0, 1]. */
function images(n: number, [h, w, c]: number[], seed: number) {
  const rng = new Random(seed);
  return Float32Array.from({ length: n * h * w * c }, () => rng.next() + 1e-3);
}

Deno.test("normalize() with channelStats() gives mean 0, std 1", () => {
  const shape = [4, 4, 3];
  const x = images(30, shape, 9);
  for (let i = 0; i < x.length; i += 3) {
    x[i] = x[i] * 2 + 5; // give the channels different scales
    x[i + 2] *= 0.1;
  }
  const ds = createDataset(x, new Int32Array(30), { shape });
  const stats = channelStats(ds);
  assert.ok(Math.abs(stats.mean[0] - 6) < 0.2);
  const y = x.slice();
  normalize(stats).apply(y, shape, new Random(0));
  const after = channelStats({ x: y, shape });
  for (let k = 0; k < 3; k++) {
    assert.ok(Math.abs(after.mean[k]) < 1e-5, `mean ${after.mean[k]}`);
    assert.ok(Math.abs(after.std[k] - 1) < 1e-5, `std ${after.std[k]}`);
  }
  assert.throws(
    () => normalize(stats).apply(y, [4, 4, 1], new Random(0)),
    /3 channels, the examples 1/,
  );
});
