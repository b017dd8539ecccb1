/**
 * Gradient-norm penalties GP and GPr: the squared norm of a mini-batch
 * gradient at the true labels or at uniformly random ones.
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import type { Plugin } from "../core/types.ts";
import type { ParamFilter } from "../core/functional.ts";
import {
  gradientNormTerm,
  holdingStatistics,
  isPenaltyStep,
  type LabelSource,
  paramSelector,
  penaltyBasics,
  penaltyState,
  type PenaltyStats,
  pickSubBatch,
  requireBatch,
  uniformLabels,
} from "./_penalty.ts";

/** Options for {@linkcode gradientNormPenalty}. */
export interface GradientNormPenaltyOptions {
  /** Penalty strength alpha (required, >= 0). */
  alpha: number;
  /**
   * "true" (default): the batch's training labels (GP). "random": labels
   * drawn uniformly from the classes, afresh each time (GPr).
   */
  labels?: "true" | "random";
  /**
   * B', examples of the batch used, drawn without replacement; the whole
   * batch when it is no larger. Default 32, as for the Fisher penalty.
   */
  subBatch?: number;
  /** Compute the penalty on steps 0, every, 2 every, ... Default 10. */
  every?: number;
  /** Which weights' gradient is penalized. Default "all". */
  params?: ParamFilter;
  /**
   * The plugin's name. Default "gradient_norm_penalty", or
   * "gradient_norm_penalty_random" with random labels.
   */
  name?: string;
}

/** A gradient-norm-penalty plugin, with counters of its work. */
export interface GradientNormPenaltyPlugin extends Plugin {
  readonly stats: PenaltyStats;
}

/**
 * GP / GPr: adds alpha ||grad_theta L_y(theta)||^2, with L_y the mean
 * cross-entropy of a sub-batch of B' examples at labels y: the training
 * labels (GP) or uniform random labels (GPr). Gradient by double backprop.
 * The comparison penalties of Jastrzebski et al., ICML 2021, Sec. 4 (see
 * PAPER.md). Logs "reg/<name>". Batch norm: as for `fisherPenalty`, the
 * sub-batch's own statistics, running statistics untouched.
 *
 * @example
 * ```ts
 * import { gradientNormPenalty } from "./gradient_norm_penalty.ts";
 * const gpr = gradientNormPenalty({ alpha: 0.1, labels: "random" });
 * console.assert(gpr.name === "gradient_norm_penalty_random");
 * ```
 */
export function gradientNormPenalty(
  options: GradientNormPenaltyOptions,
): GradientNormPenaltyPlugin {
  const labels = options.labels ?? "true";
  const name = options.name ??
    (labels === "random"
      ? "gradient_norm_penalty_random"
      : "gradient_norm_penalty");
  const what = `gradientNormPenalty "${name}"`;
  const { alpha, every, subBatch, stream, stats } = penaltyBasics(
    what,
    name,
    options,
  );
  if (labels !== "true" && labels !== "random") {
    throw new RangeError(
      `Cannot make ${what}: labels is "${labels}", expected "true" or ` +
        '"random"',
    );
  }

  const penalized = paramSelector(options.params ?? "all");

  return {
    name,
    stats,

    setup(ctx) {
      stream.reset(ctx);
    },

    loss(ctx, loss) {
      if (!isPenaltyStep(ctx.counters.step, every)) return;
      const random = stream.get(ctx);
      const sub = pickSubBatch(requireBatch(ctx, what), subBatch, random);
      stats.penaltySteps++;
      stats.lastSubBatch = sub.size;
      stats.lastStep = ctx.counters.step;
      const source: LabelSource = labels === "true"
        ? (_logits, s) => s.y.dataSync() as Int32Array
        : (logits, s) => uniformLabels(s.size, logits.shape[1]!, random);
      try {
        return tf.tidy(() => {
          const { squaredNorm } = holdingStatistics(
            ctx.model,
            () => gradientNormTerm(ctx, sub, penalized(ctx), source),
          );
          stats.gradientEvaluations++;
          const term = tf.mul(squaredNorm, alpha);
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
