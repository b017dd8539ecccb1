import assert from "node:assert/strict";
import { Random } from "../core/random.ts";
import { at, images } from "./_test_images.ts";
import { randomCrop } from "./random_crop.ts";

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
