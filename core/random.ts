/**
 * Seeded random numbers: one seed drives initialization, shuffling, label
 * noise, augmentation and label sampling, each through its own named stream
 * so that adding a consumer does not shift the numbers another one sees.
 *
 * The generator is xoshiro128** (Blackman and Vigna, 2018), seeded through
 * splitmix32; streams are derived by hashing a label into the seed.
 *
 * @module
 */

function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) | 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [state, (z ^ (z >>> 16)) >>> 0];
}

function hashLabel(label: string): number {
  // FNV-1a, 32 bits: a stable hash of a stream name.
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) {
    h ^= label.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A seeded random source. Same seed, same sequence, on every machine.
 *
 * @example Shuffle reproducibly
 * ```ts
 * import { Random } from "./random.ts";
 * const a = new Random(7).permutation(5);
 * const b = new Random(7).permutation(5);
 * console.assert(a.join() === b.join());
 * ```
 */
export class Random {
  /** The seed this source was made from. */
  readonly seed: number;
  #s = new Uint32Array(4);
  #spare: number | undefined;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new TypeError(`Cannot seed a random source: seed is ${seed}`);
    }
    this.seed = seed;
    let state = (Math.trunc(seed) ^ Math.trunc(seed / 2 ** 32)) | 0;
    for (let i = 0; i < 4; i++) {
      let out: number;
      [state, out] = splitmix32(state);
      this.#s[i] = out;
    }
    if (this.#s.every((v) => v === 0)) this.#s[0] = 1;
  }

  /** An independent stream named `label`, derived from this one's seed. */
  fork(label: string): Random {
    return new Random(
      (this.seed ^ hashLabel(label)) >>> 0 ^
        Math.imul(hashLabel(label), 0x9e3779b1) >>> 0,
    );
  }

  /** A uniform 32-bit unsigned integer. */
  uint32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** A uniform number in [0, 1) with 32 random bits. */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) {
      throw new RangeError(`Cannot draw an integer below ${n}: need n >= 1`);
    }
    // Rejection sampling removes the bias of a plain modulo.
    const limit = 4294967296 - (4294967296 % n);
    let u: number;
    do u = this.uint32(); while (u >= limit);
    return u % n;
  }

  /** A standard normal number (Box-Muller). */
  normal(): number {
    if (this.#spare !== undefined) {
      const v = this.#spare;
      this.#spare = undefined;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** A random sign, +1 or -1, each with probability 1/2. */
  sign(): number {
    return this.uint32() & 1 ? 1 : -1;
  }

  /**
   * `n` random signs, +1 or -1 each with probability 1/2, independent: a
   * Rademacher vector. Each 32-bit draw gives 32 signs, one per bit, so a
   * probe of a million weights takes 31,250 draws, not a million.
   */
  signs(n: number): Float64Array {
    if (!Number.isInteger(n) || n < 0) {
      throw new RangeError(
        `Cannot draw ${n} signs: give a whole number, 0 or more`,
      );
    }
    const out = new Float64Array(n);
    for (let i = 0; i < n; i += 32) {
      const bits = this.uint32();
      const end = Math.min(32, n - i);
      // Arithmetic, not a branch: a branch on random bits mispredicts
      // half the time.
      for (let b = 0; b < end; b++) out[i + b] = ((bits >>> b) & 1) * 2 - 1;
    }
    return out;
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[] | Int32Array | Uint32Array): typeof items {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    this.shuffle(p);
    return p;
  }

  /** Fills a new Float32Array with uniform numbers in [0, 1). */
  uniformArray(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next();
    return out;
  }

  /** The generator's state, for checkpoints. */
  state(): number[] {
    return [...this.#s];
  }

  /** Restores a state taken with {@linkcode Random.state}. */
  restore(state: number[]): void {
    if (state.length !== 4) {
      throw new RangeError(
        `Cannot restore a random state: expected 4 words, got ${state.length}`,
      );
    }
    this.#s.set(state);
    this.#spare = undefined;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
