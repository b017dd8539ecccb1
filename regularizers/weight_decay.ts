/**
 * Weight decay, as an L2 term in the loss or decoupled from the gradient.
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import type { Plugin } from "../core/types.ts";
import type { ParamFilter } from "../core/functional.ts";
import { squaredNorm } from "../core/functional.ts";
import { checkAlpha, paramSelector } from "./_penalty.ts";

/** Options for {@linkcode weightDecay}. */
export interface WeightDecayOptions {
  /** The coefficient lambda (required, >= 0). */
  coefficient: number;
  /**
   * "l2" (default): add lambda/2 ||theta||^2 to the loss, whose gradient is
   * lambda theta. "decoupled": shrink the weights in the step instead,
   * theta <- theta - lr lambda theta (Loshchilov and Hutter, 2019).
   */
  mode?: "l2" | "decoupled";
  /** Which weights decay. Default "all" (biases and batch norm included). */
  params?: ParamFilter;
  /** The plugin's name. Default "weight_decay". */
  name?: string;
}

/**
 * Weight decay, the baseline regularizer of PAPER.md. In "l2" mode it adds
 * (lambda/2) ||theta||^2 to the loss, the 1/2 making the gradient lambda
 * theta, as PyTorch's `weight_decay` does. In "decoupled" mode it
 * multiplies the weights by (1 - lr lambda) just before the optimizer step,
 * with lr = `ctx.optimizer.learningRate`, so the decay uses the weights the
 * gradient was computed at, as PyTorch's AdamW does (Loshchilov and Hutter,
 * "Decoupled weight decay regularization", ICLR 2019). With plain SGD both
 * modes give the same update. Logs "reg/<name>": (lambda/2) ||theta||^2,
 * in either mode.
 *
 * @example
 * ```ts
 * import { weightDecay } from "./weight_decay.ts";
 * const wd = weightDecay({ coefficient: 5e-4, mode: "decoupled" });
 * console.assert(wd.name === "weight_decay");
 * ```
 */
export function weightDecay(options: WeightDecayOptions): Plugin {
  const name = options.name ?? "weight_decay";
  const what = `weightDecay "${name}"`;
  const { coefficient } = options;
  const mode = options.mode ?? "l2";
  checkAlpha(what, "coefficient", coefficient);
  if (mode !== "l2" && mode !== "decoupled") {
    throw new RangeError(
      `Cannot make ${what}: mode is "${mode}", expected "l2" or "decoupled"`,
    );
  }
  const decayed = paramSelector(options.params ?? "all");

  return {
    name,

    loss(ctx, loss) {
      if (mode !== "l2") return;
      return tf.tidy(() => {
        const term = tf.mul(squaredNorm(decayed(ctx)), coefficient / 2);
        ctx.metrics.log(`reg/${name}`, term);
        return tf.add(loss, term) as tf.Scalar;
      });
    },

    beforeOptimizerStep(ctx) {
      if (mode !== "decoupled") return;
      const factor = 1 - ctx.optimizer.learningRate * coefficient;
      tf.tidy(() => {
        const params = decayed(ctx);
        const term = tf.mul(squaredNorm(params), coefficient / 2);
        ctx.metrics.log(`reg/${name}`, term);
        for (const p of params) p.assign(tf.mul(p, factor));
      });
    },
  };
}
