/**
 * The input-gradient penalty GPx: the squared norm of the gradient of the
 * loss with respect to the inputs.
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import type { Plugin } from "../core/types.ts";
import { crossEntropy } from "../core/functional.ts";
import {
  holdingStatistics,
  isPenaltyStep,
  penaltyBasics,
  penaltyState,
  type PenaltyStats,
  pickSubBatch,
  requireBatch,
  type SubBatch,
} from "./_penalty.ts";

/** Options for {@linkcode inputGradientPenalty}. */
export interface InputGradientPenaltyOptions {
  /** Penalty strength alpha (required, >= 0). */
  alpha: number;
  /**
   * B', examples of the batch used, drawn without replacement; the whole
   * batch when it is no larger. Default 32, as for the Fisher penalty.
   */
  subBatch?: number;
  /** Compute the penalty on steps 0, every, 2 every, ... Default 10. */
  every?: number;
  /** The plugin's name. Default "input_gradient_penalty". */
  name?: string;
}

/** An input-gradient-penalty plugin, with counters of its work. */
export interface InputGradientPenaltyPlugin extends Plugin {
  readonly stats: PenaltyStats;
}

/**
 * GPx: adds alpha (1/B') sum_i ||grad_{x_i} l_i||^2, the mean over a
 * sub-batch of the squared norm of each example's loss gradient with
 * respect to its own input (l_i: cross-entropy at the training label). It
 * is computed as ||grad_x sum_i l_i||^2 / B', one input gradient, and does
 * not shrink as B' grows. Without batch norm the examples do not interact,
 * so this is exactly the per-example mean; with batch norm (sub-batch
 * statistics) the gradient of the summed loss also carries the cross-example
 * terms. The comparison penalty GPx of Jastrzebski et al., ICML 2021, Sec. 4
 * (see PAPER.md). Logs "reg/<name>".
 *
 * @example
 * ```ts
 * import { inputGradientPenalty } from "./input_gradient_penalty.ts";
 * const gpx = inputGradientPenalty({ alpha: 0.01 });
 * console.assert(gpx.name === "input_gradient_penalty");
 * ```
 */
export function inputGradientPenalty(
  options: InputGradientPenaltyOptions,
): InputGradientPenaltyPlugin {
  const name = options.name ?? "input_gradient_penalty";
  const what = `inputGradientPenalty "${name}"`;
  const { alpha, every, subBatch, stream, stats } = penaltyBasics(
    what,
    name,
    options,
  );

  const perExample = (
    forward: (x: tf.Tensor) => tf.Tensor,
    sub: SubBatch,
  ): tf.Scalar => {
    const summed = (x: tf.Tensor) =>
      crossEntropy(forward(x), sub.y, { reduction: "sum" }) as tf.Scalar;
    const { value, grad } = tf.valueAndGrad(summed)(sub.x);
    value.dispose();
    return tf.div(tf.sum(tf.square(grad)), sub.size) as tf.Scalar;
  };

  return {
    name,
    stats,

    setup(ctx) {
      stream.reset(ctx);
    },

    loss(ctx, loss) {
      if (!isPenaltyStep(ctx.counters.step, every)) return;
      const batch = requireBatch(ctx, what);
      const sub = pickSubBatch(batch, subBatch, stream.get(ctx));
      stats.penaltySteps++;
      stats.lastSubBatch = sub.size;
      stats.lastStep = ctx.counters.step;
      try {
        return tf.tidy(() => {
          const squared = holdingStatistics(
            ctx.model,
            () => perExample((x) => ctx.forward(x, true), sub),
          );
          stats.gradientEvaluations++;
          const term = tf.mul(squared, alpha);
          ctx.metrics.log(`reg/${name}`, term);
          return tf.add(loss, term) as tf.Scalar;
        });
      } finally {
        sub.x.dispose();
        sub.y.dispose();
      }
    },

    ...penaltyState(stream, stats),
  };
}
