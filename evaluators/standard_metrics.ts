/**
 * The standard metrics plugin: gradient norm and weight norm each step
 * (the loop itself logs train loss, accuracy and the learning rate per
 * step, and test loss and accuracy per epoch).
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import { squaredNorm } from "../core/functional.ts";
import type { Plugin } from "../core/types.ts";
import { METRICS } from "./metric_names.ts";

/** Options for {@linkcode standardMetrics}. */
export interface StandardMetricsOptions {
  /** Log every this many steps. Default 1. */
  every?: number;
  /**
   * Also log "lr" here. Default false: the loop already logs it each step;
   * turn on for a loop that does not.
   */
  lr?: boolean;
}

/**
 * Logs "grad/norm" (the Euclidean norm of the gradients the optimizer is
 * about to use, after every `afterBackward` plugin that ran before this
 * one: list it last to see the final gradients) and "weights/norm" (of the
 * trainable weights after the update). Values stay on the device until the
 * metrics sink flushes.
 *
 * @example
 * ```ts
 * import { standardMetrics } from "./standard_metrics.ts";
 * const plugin = standardMetrics({ every: 10 });
 * console.assert(plugin.name === "standard-metrics");
 * ```
 */
export function standardMetrics(options: StandardMetricsOptions = {}): Plugin {
  const every = options.every ?? 1;
  if (!Number.isInteger(every) || every < 1) {
    throw new RangeError(
      `Cannot create "standard-metrics": every is "${every}"; give a ` +
        "positive integer",
    );
  }
  // afterBackward runs before the step counter moves, batchEnd after it.
  const due = (step: number) => step % every === 0;
  return {
    name: "standard-metrics",
    enforce: "post",
    afterBackward(ctx, grads) {
      if (!due(ctx.counters.step)) return;
      const norm = tf.tidy(() => tf.sqrt(squaredNorm(grads)));
      ctx.metrics.log(METRICS.gradNorm, norm);
      norm.dispose();
    },
    batchEnd(ctx) {
      if (!due(ctx.counters.step - 1)) return;
      const norm = tf.tidy(() => tf.sqrt(squaredNorm(ctx.params)));
      ctx.metrics.log(METRICS.weightsNorm, norm);
      norm.dispose();
      if (options.lr) ctx.metrics.log(METRICS.lr, ctx.optimizer.learningRate);
    },
  };
}
