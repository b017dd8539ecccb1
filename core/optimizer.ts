/**
 * Optimizers. fisherlab applies updates itself (rather than through tfjs's
 * optimizers) so that gradients pass through the plugin hooks first and the
 * state can be saved in checkpoints.
 *
 * @module
 */
import { tf } from "./tf.ts";
import { axpbyInPlace } from "./kernels/in_place.ts";
import type { Optimizer } from "./types.ts";

/** Options for {@linkcode sgd}. */
export interface SgdOptions {
  /** Learning rate; a schedule may change it each step. Default 0.1. */
  lr?: number;
  /** Momentum coefficient mu. Default 0 (plain SGD). */
  momentum?: number;
  /** Nesterov momentum. Default false. */
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent with (Nesterov) momentum, in the form PyTorch
 * uses: v <- mu v + g; theta <- theta - lr (g + mu v) with Nesterov, else
 * theta <- theta - lr v (Sutskever et al., 2013).
 *
 * @example
 * ```ts
 * import { sgd } from "./optimizer.ts";
 * const opt = sgd({ lr: 0.05, momentum: 0.9 });
 * console.assert(opt.learningRate === 0.05);
 * ```
 */
export function sgd(options: SgdOptions = {}): Optimizer {
  const lr = options.lr ?? 0.1;
  const momentum = options.momentum ?? 0;
  const nesterov = options.nesterov ?? false;
  if (!(lr >= 0) || !Number.isFinite(lr)) {
    throw new RangeError(`Cannot make SGD: lr is ${lr}, expected >= 0`);
  }
  if (!(momentum >= 0 && momentum < 1)) {
    throw new RangeError(
      `Cannot make SGD: momentum is ${momentum}, expected 0 <= momentum < 1`,
    );
  }
  if (nesterov && momentum === 0) {
    throw new RangeError(
      "Cannot make SGD: nesterov needs momentum > 0",
    );
  }
  let velocity: tf.Variable[] | undefined;

  return {
    name: nesterov ? "sgd-nesterov" : momentum > 0 ? "sgd-momentum" : "sgd",
    learningRate: lr,
    apply(params, grads) {
      if (grads.length !== params.length) {
        throw new RangeError(
          `Cannot apply gradients: ${grads.length} gradients for ` +
            `${params.length} parameters`,
        );
      }
      const rate = this.learningRate;
      if (momentum > 0 && !velocity) {
        velocity = params.map((p) => {
          // tf.variable shares the buffer of its initial value: dispose
          // the zeros so that the velocity alone holds it.
          const zeros = tf.zerosLike(p);
          const v = tf.variable(zeros, false);
          zeros.dispose();
          return v;
        });
      }
      // Each line below writes in place where it can (one SIMD pass on
      // the wasm backend, the same values bit for bit) and otherwise
      // computes with ops and assigns.
      tf.tidy(() => {
        params.forEach((p, i) => {
          const g = grads[i];
          if (momentum === 0) {
            if (!axpbyInPlace(p, g, -rate, 1)) {
              p.assign(tf.sub(p, tf.mul(g, rate)));
            }
            return;
          }
          const v = velocity![i];
          if (!axpbyInPlace(v, g, 1, momentum)) {
            v.assign(tf.add(tf.mul(v, momentum), g));
          }
          if (nesterov) {
            p.assign(tf.sub(p, tf.mul(tf.add(g, tf.mul(v, momentum)), rate)));
          } else if (!axpbyInPlace(p, v, -rate, 1)) {
            p.assign(tf.sub(p, tf.mul(v, rate)));
          }
        });
      });
    },
    async getState() {
      const buffers = velocity
        ? await Promise.all(velocity.map(async (v) => ({
          shape: v.shape,
          values: Array.from(await v.data()),
        })))
        : [];
      return { learningRate: this.learningRate, velocity: buffers };
    },
    setState(state, params) {
      const buffers = state.velocity as
        | { shape: number[]; values: number[] }[]
        | undefined;
      if (typeof state.learningRate === "number") {
        this.learningRate = state.learningRate;
      }
      if (!buffers || buffers.length === 0) return;
      if (buffers.length !== params.length) {
        throw new RangeError(
          `Cannot restore SGD state: ${buffers.length} buffers for ` +
            `${params.length} parameters`,
        );
      }
      velocity?.forEach((v) => v.dispose());
      velocity = buffers.map((b) => {
        const values = tf.tensor(b.values, b.shape);
        const v = tf.variable(values, false);
        values.dispose();
        return v;
      });
    },
    dispose() {
      velocity?.forEach((v) => v.dispose());
      velocity = undefined;
    },
  };
}
