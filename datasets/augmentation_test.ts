import assert from "node:assert/strict";
import { Random } from "../core/random.ts";
import {
  compose,
  defaultAugmentation,
  defaultPreprocessing,
} from "./augmentation.ts";
import { createDataset } from "./create_dataset.ts";
import { horizontalFlip } from "./horizontal_flip.ts";
import { channelStats, normalize } from "./normalize.ts";
import { randomCrop } from "./random_crop.ts";

/** n images of shape [h, w, c] with distinct seeded values in (0, 1]. */
function images(n: number, [h, w, c]: number[], seed: number) {
  const rng = new Random(seed);
  return Float32Array.from({ length: n * h * w * c }, () => rng.next() + 1e-3);
}

function at(
  x: Float32Array,
  [h, w, c]: number[],
  i: number,
  y: number,
  xx: number,
  k: number,
) {
  if (y < 0 || y >= h || xx < 0 || xx >= w) return 0;
  return x[((i * h + y) * w + xx) * c + k];
}

Deno.test("horizontalFlip() twice with the same draws is the identity", () => {
  const shape = [5, 6, 3];
  const x = images(8, shape, 1);
  const y = x.slice();
  horizontalFlip().apply(y, shape, new Random(4));
  assert.notDeepEqual(y, x);
  horizontalFlip().apply(y, shape, new Random(4));
  assert.deepEqual(y, x);
});

Deno.test("horizontalFlip() mirrors the width axis of flipped images", () => {
  const shape = [3, 4, 2];
  const x = images(1, shape, 2);
  const y = x.slice();
  horizontalFlip({ probability: 1 }).apply(y, shape, new Random(0));
  for (let r = 0; r < 3; r++) {
    for (let col = 0; col < 4; col++) {
      for (let k = 0; k < 2; k++) {
        assert.equal(
          at(y, shape, 0, r, col, k),
          at(x, shape, 0, r, 3 - col, k),
        );
      }
    }
  }
  const z = x.slice();
  horizontalFlip({ probability: 0 }).apply(z, shape, new Random(0));
  assert.deepEqual(z, x);
});

Deno.test("horizontalFlip() flips about half of the images", () => {
  const shape = [1, 2, 1];
  const n = 4000;
  const x = new Float32Array(n * 2).map((_, i) => i % 2);
  horizontalFlip().apply(x, shape, new Random(3));
  let flipped = 0;
  for (let i = 0; i < n; i++) if (x[2 * i] === 1) flipped++;
  // Binomial(4000, 0.5): sd about 32; allow 5 sd.
  assert.ok(Math.abs(flipped - n / 2) < 160, `${flipped} flipped`);
});

Deno.test("randomCrop() shifts content and pads with zeros", () => {
  const shape = [6, 7, 3];
  const n = 40;
  const x = images(n, shape, 5);
  const y = x.slice();
  const padding = 2;
  randomCrop({ padding }).apply(y, shape, new Random(8));
  const shifts = new Set<string>();
  for (let i = 0; i < n; i++) {
    // Recover the shift: the one (dy, dx) that explains every pixel.
    let match: string | undefined;
    for (let dy = -padding; dy <= padding && !match; dy++) {
      for (let dx = -padding; dx <= padding && !match; dx++) {
        let ok = true;
        for (let r = 0; r < 6 && ok; r++) {
          for (let c = 0; c < 7 && ok; c++) {
            for (let k = 0; k < 3 && ok; k++) {
              ok = at(y, shape, i, r, c, k) ===
                at(x, shape, i, r + dy, c + dx, k);
            }
          }
        }
        if (ok) match = `${dy},${dx}`;
      }
    }
    assert.ok(match, `image ${i} is not a shifted copy`);
    shifts.add(match);
  }
  // 40 draws from 25 shifts should show many of them.
  assert.ok(shifts.size >= 12, `only ${shifts.size} distinct shifts`);
});

Deno.test("randomCrop() is seeded and handles padding beyond the size", () => {
  const shape = [3, 3, 1];
  const x = images(10, shape, 6);
  const a = x.slice();
  const b = x.slice();
  randomCrop({ padding: 1 }).apply(a, shape, new Random(2));
  randomCrop({ padding: 1 }).apply(b, shape, new Random(2));
  assert.deepEqual(a, b);
  const c = x.slice();
  randomCrop({ padding: 5 }).apply(c, shape, new Random(2));
  assert.ok(c.every((v) => v === 0 || x.includes(v)));
  assert.ok(c.some((v) => v === 0));
  assert.throws(() => randomCrop({ padding: -1 }), RangeError);
  assert.throws(
    () => randomCrop().apply(new Float32Array(4), [4], new Random(0)),
    /shape \[4\].*\[height, width, channels\]/,
  );
});

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

Deno.test("defaultAugmentation() is on for CIFAR and off for MNIST", () => {
  assert.equal(defaultAugmentation("mnist/train"), undefined);
  assert.equal(defaultAugmentation("fashion-mnist"), undefined);
  assert.equal(defaultPreprocessing("mnist"), undefined);
  const cifar = defaultAugmentation("cifar10/train");
  assert.equal(cifar?.name, "crop(4)+flip+normalize");
  assert.equal(cifar?.deterministic, false);
  const pre = defaultPreprocessing("cifar100-fine/test");
  assert.equal(pre?.deterministic, true);
  const x = new Float32Array(32 * 32 * 3).fill(0.5);
  pre!.apply(x, [32, 32, 3], new Random(0));
  assert.ok(Math.abs(x[0] - (0.5 - 0.5071) / 0.2673) < 1e-6);
});

Deno.test("compose() applies steps in order", () => {
  const log: string[] = [];
  const step = (name: string) => ({
    name,
    apply: () => void log.push(name),
  });
  const both = compose(step("a"), step("b"));
  both.apply(new Float32Array(1), [1], new Random(0));
  assert.deepEqual(log, ["a", "b"]);
  assert.equal(both.name, "a+b");
});
