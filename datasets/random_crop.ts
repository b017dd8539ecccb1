/**
 * Random crop with zero padding: each image is padded by `padding` zero
 * pixels on every side and cropped back to its size at a random offset,
 * i.e. shifted by up to `padding` pixels in each direction.
 *
 * @module
 */
import type { Random } from "../core/random.ts";
import type { Augmentation } from "./augmentation.ts";
import { imageShape } from "./_image_shape.ts";

/** Options for {@linkcode randomCrop}. */
export interface RandomCropOptions {
  /** Zero pixels added on each side before cropping. Default: 4. */
  padding?: number;
}

/**
 * A random crop with zero padding, applied to NHWC images in place. Output
 * pixel (y, x) is input pixel (y + dy, x + dx), or 0 outside the image, with
 * dy and dx drawn uniformly from [-padding, padding] per image.
 *
 * @example Shift 32x32 colour images by up to 4 pixels
 * ```ts
 * import { randomCrop } from "./random_crop.ts";
 * import { Random } from "../core/random.ts";
 * const batch = new Float32Array(2 * 32 * 32 * 3).fill(1);
 * randomCrop({ padding: 4 }).apply(batch, [32, 32, 3], new Random(0));
 * ```
 */
export function randomCrop(options: RandomCropOptions = {}): Augmentation {
  const padding = options.padding ?? 4;
  if (!Number.isInteger(padding) || padding < 0) {
    throw new RangeError(
      `Cannot make a random crop: padding is ${padding}, need an integer ` +
        ">= 0",
    );
  }
  return {
    name: `crop(${padding})`,
    apply(x: Float32Array, shape: readonly number[], rng: Random): void {
      const [h, w, c] = imageShape(shape, "crop");
      const size = h * w * c;
      const scratch = new Float32Array(size);
      for (let at = 0; at < x.length; at += size) {
        const dy = rng.int(2 * padding + 1) - padding;
        const dx = rng.int(2 * padding + 1) - padding;
        if (dy === 0 && dx === 0) continue;
        scratch.set(x.subarray(at, at + size));
        shift(scratch, x.subarray(at, at + size), [h, w, c], [dy, dx]);
      }
    },
  };
}

/** Writes `src` shifted by (dy, dx) into `dst`, zeros where nothing maps. */
function shift(
  src: Float32Array,
  dst: Float32Array,
  [h, w, c]: number[],
  [dy, dx]: number[],
): void {
  const row = w * c;
  const x0 = Math.min(w, Math.max(0, -dx));
  const x1 = Math.max(x0, Math.min(w, w - dx));
  for (let y = 0; y < h; y++) {
    const out = y * row;
    const sy = y + dy;
    if (sy < 0 || sy >= h || x1 === x0) {
      dst.fill(0, out, out + row);
      continue;
    }
    dst.fill(0, out, out + x0 * c);
    const from = sy * row + (x0 + dx) * c;
    dst.set(src.subarray(from, from + (x1 - x0) * c), out + x0 * c);
    dst.fill(0, out + x1 * c, out + row);
  }
}
