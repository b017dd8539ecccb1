/**
 * The seeded random stream a plugin draws from, forked from the run's source
 * by the plugin's name, and saved with checkpoints.
 *
 * @module
 */
import type { Random } from "../core/random.ts";
import type { Context } from "../core/types.ts";

/** A lazily forked, checkpointable random stream. */
export class Stream {
  #label: string;
  #random: Random | undefined;
  #pending: number[] | undefined;

  constructor(label: string) {
    this.#label = label;
  }

  /** Forks a fresh stream from `ctx.random` (call at setup). */
  reset(ctx: Context): void {
    this.#random = ctx.random.fork(this.#label);
    if (this.#pending) this.#random.restore(this.#pending);
    this.#pending = undefined;
  }

  /** The stream, forked on first use. */
  get(ctx: Context): Random {
    if (!this.#random) this.reset(ctx);
    return this.#random!;
  }

  /** The generator state, or undefined before first use. */
  state(): number[] | undefined {
    return this.#random?.state() ?? this.#pending;
  }

  /** Restores a state from `state`, now or at the next fork. */
  restore(state: number[] | undefined): void {
    if (!state) return;
    if (this.#random) this.#random.restore(state);
    else this.#pending = [...state];
  }
}
