/**
 * Random horizontal flip: mirror each image left to right with a given
 * probability.
 *
 * @module
 */
import type { Random } from "../core/random.ts";
import type { Augmentation } from "./augmentation.ts";
import { imageShape } from "./_image_shape.ts";

/** Options for {@linkcode horizontalFlip}. */
export interface HorizontalFlipOptions {
  /** Chance that an image is flipped, in [0, 1]. Default: 0.5. */
  probability?: number;
}

/**
 * Flips NHWC images left to right in place, each with probability
 * `probability` (one draw per image).
 *
 * @example Flip every image
 * ```ts
 * import { horizontalFlip } from "./horizontal_flip.ts";
 * import { Random } from "../core/random.ts";
 * const image = new Float32Array([1, 2, 3, 4]); // one 2x2x1 image
 * horizontalFlip({ probability: 1 }).apply(image, [2, 2, 1], new Random(0));
 * console.assert(image.join() === "2,1,4,3");
 * ```
 */
export function horizontalFlip(
  options: HorizontalFlipOptions = {},
): Augmentation {
  const probability = options.probability ?? 0.5;
  if (!(probability >= 0 && probability <= 1)) {
    throw new RangeError(
      `Cannot make a horizontal flip: probability is ${probability}, need ` +
        "a number in [0, 1]",
    );
  }
  return {
    name: probability === 0.5 ? "flip" : `flip(${probability})`,
    apply(x: Float32Array, shape: readonly number[], rng: Random): void {
      const [h, w, c] = imageShape(shape, "flip");
      const size = h * w * c;
      for (let at = 0; at < x.length; at += size) {
        if (rng.next() < probability) mirror(x, at, [h, w, c]);
      }
    },
  };
}

function mirror(x: Float32Array, at: number, [h, w, c]: number[]): void {
  for (let y = 0; y < h; y++) {
    const row = at + y * w * c;
    for (let left = 0, right = w - 1; left < right; left++, right--) {
      for (let k = 0; k < c; k++) {
        const a = row + left * c + k;
        const b = row + right * c + k;
        const tmp = x[a];
        x[a] = x[b];
        x[b] = tmp;
      }
    }
  }
}
