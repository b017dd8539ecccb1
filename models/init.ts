/**
 * Seeded initializers: each layer of a zoo model gets its own seed derived
 * from the model's seed, so the same seed gives the same weights.
 *
 * @module
 */
import { tfl } from "../core/tf.ts";
import { Random } from "../core/random.ts";

/** Hands out He and Glorot initializers with seeds derived from `seed`. */
export class SeededInit {
  #random: Random;

  constructor(seed: number) {
    this.#random = new Random(seed).fork("init");
  }

  #next(): number {
    return this.#random.int(2 ** 31 - 1);
  }

  /** He normal (Kaiming), for layers followed by ReLU. */
  he(): ReturnType<typeof tfl.initializers.heNormal> {
    return tfl.initializers.heNormal({ seed: this.#next() });
  }

  /** Glorot uniform, tfjs's default, for output layers. */
  glorot(): ReturnType<typeof tfl.initializers.glorotUniform> {
    return tfl.initializers.glorotUniform({ seed: this.#next() });
  }
}
