/**
 * Image fixtures for the augmentation tests.
 *
 * @module
 */
import { Random } from "../core/random.ts";

/** n images of shape [h, w, c] with distinct seeded values in (0, 1]. */
export function images(
  n: number,
  [h, w, c]: number[],
  seed: number,
): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length: n * h * w * c }, () => rng.next() + 1e-3);
}

/** Pixel (y, xx, k) of image i in NHWC `x`; 0 outside the image. */
export function at(
  x: Float32Array,
  [h, w, c]: number[],
  i: number,
  y: number,
  xx: number,
  k: number,
): number {
  if (y < 0 || y >= h || xx < 0 || xx >= w) return 0;
  return x[((i * h + y) * w + xx) * c + k];
}
