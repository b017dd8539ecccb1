/**
 * A seeded random unit vector: the start of power iteration and Lanczos.
 *
 * @module
 */
import type { Random } from "../core/random.ts";
import { norm, scale } from "./_linalg.ts";

/** A unit vector of length `dim` with a uniformly random direction. */
export function randomUnitVector(dim: number, random: Random): Float64Array {
  const v = new Float64Array(dim);
  for (let i = 0; i < dim; i++) v[i] = random.normal();
  return scale(1 / norm(v), v);
}
