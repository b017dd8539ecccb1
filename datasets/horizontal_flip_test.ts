import assert from "node:assert/strict";
import { Random } from "../core/random.ts";
import { at, images } from "./_test_images.ts";
import { horizontalFlip } from "./horizontal_flip.ts";

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
