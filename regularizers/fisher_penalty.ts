/**
 * The Fisher penalty (FP): a regularizer on the trace of the Fisher
 * Information Matrix, through the squared norm of a mean gradient at labels
 * sampled from the model.
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import type { Context, Plugin } from "../core/types.ts";
import type { ParamFilter } from "../core/functional.ts";
import { squaredNorm } from "../core/functional.ts";
import {
  checkAlpha,
  gradientNormTerm,
  holdingStatistics,
  isPenaltyStep,
  labelGradient,
  paramSelector,
  penaltyBasics,
  penaltyState,
  type PenaltyStats,
  pickSubBatch,
  requireBatch,
  sampleLabels,
  type SubBatch,
} from "./_penalty.ts";
import {
  denseChain,
  denseGradientAndHessian,
  type DenseStep,
  ownsAll,
} from "../evaluators/_dense_hvp.ts";

/** Options for {@linkcode fisherPenalty}. */
export interface FisherPenaltyOptions {
  /** Penalty strength alpha (required, >= 0). */
  alpha: number;
  /**
   * B', the number of examples of the batch the penalty uses, drawn without
   * replacement from the plugin's random stream; the whole batch when the
   * batch is no larger. Default 32. The penalty's expected value is
   * alpha Tr(F) / B', so a fixed B' keeps alpha's meaning when the training
   * batch size changes.
   */
  subBatch?: number;
  /**
   * Compute the penalty on every `every`-th step only (steps 0, every,
   * 2 every, ...), the plain loss in between. Default 10.
   */
  every?: number;
  /** Which weights' gradient is penalized. Default "all". */
  params?: ParamFilter;
  /**
   * "exact" (default): double backprop through the model. Or
   * "finite-difference": grad R = 2 H g by central differences of two
   * extra gradients, added in `afterBackward`.
   */
  method?: "exact" | "finite-difference";
  /**
   * For "finite-difference": the length ||eps g|| of the step in weight
   * space, so eps = epsilon / ||g||. Default 1e-4 (see README.md for the
   * measured error).
   */
  epsilon?: number;
  /** The plugin's name, for metrics and checkpoints. Default "fisher_penalty". */
  name?: string;
}

/** A Fisher-penalty plugin, with counters of the work it has done. */
export interface FisherPenaltyPlugin extends Plugin {
  readonly stats: PenaltyStats;
}

/**
 * The Fisher penalty: adds alpha ||(1/B') sum_i grad_theta log p(yhat_i |
 * x_i)||^2 over a sub-batch, each yhat_i drawn from the model's softmax
 * (no gradient through the draw). Jastrzebski et al., ICML 2021,
 * "Catastrophic Fisher explosion", Sec. 4 (see PAPER.md).
 *
 * Logs "reg/<name>" (the term) and "fisher/penalty_trace" (B' ||mean g||^2,
 * an unbiased estimate of Tr(F) on the sub-batch). The sub-batch forward
 * runs in training mode, so batch norm normalizes with the sub-batch's own
 * statistics; the running statistics are left as the loop's forward set
 * them.
 *
 * "exact" differentiates the term by double backprop through the loss
 * hook, except for a Sequential chain of dense layers (linear or ReLU,
 * flattening): there `beforeBackward` computes g and H g by one forward and
 * backward pass and the R-operator (evaluators/_dense_hvp.ts), the loss
 * hook adds the term's value, and `afterBackward` adds its gradient
 * 2 alpha H g: the same gradient with no tape (checked against double
 * backprop).
 *
 * @example
 * ```ts
 * import { fisherPenalty } from "./fisher_penalty.ts";
 * const fp = fisherPenalty({ alpha: 0.1, subBatch: 32, every: 10 });
 * console.assert(fp.name === "fisher_penalty");
 * ```
 */
export function fisherPenalty(
  options: FisherPenaltyOptions,
): FisherPenaltyPlugin {
  const name = options.name ?? "fisher_penalty";
  const what = `fisherPenalty "${name}"`;
  const { alpha, every, subBatch, stream, stats } = penaltyBasics(
    what,
    name,
    options,
  );
  const method = options.method ?? "exact";
  const epsilon = options.epsilon ?? 1e-4;
  checkAlpha(what, "epsilon", epsilon);
  if (method !== "exact" && method !== "finite-difference") {
    throw new RangeError(
      `Cannot make ${what}: method is "${method}", expected "exact" or ` +
        '"finite-difference"',
    );
  }

  const penalized = paramSelector(options.params ?? "all");
  /**
   * The model's dense chain (evaluators/_dense_hvp.ts) when it has one that
   * owns every trainable weight: then the R-operator route applies.
   */
  const chains = new WeakMap<object, DenseStep[] | null>();
  const chainOf = (ctx: Context): DenseStep[] | undefined => {
    if (!chains.has(ctx.model)) {
      const chain = denseChain(ctx.model);
      const all = chain !== undefined && ownsAll(chain, ctx.params);
      chains.set(ctx.model, all ? chain : null);
    }
    return chains.get(ctx.model) ?? undefined;
  };
  /** The term and its gradient, computed before the step's backward. */
  let ahead: { term: tf.Scalar; hg: tf.Tensor[] } | undefined;
  const disposeAhead = () => {
    if (ahead) tf.dispose([ahead.term, ...ahead.hg]);
    ahead = undefined;
  };

  const begin = (ctx: Context): SubBatch => {
    const sub = pickSubBatch(
      requireBatch(ctx, what),
      subBatch,
      stream.get(ctx),
    );
    stats.penaltySteps++;
    stats.lastSubBatch = sub.size;
    stats.lastStep = ctx.counters.step;
    return sub;
  };

  const record = (ctx: Context, squared: tf.Scalar, size: number) => {
    tf.tidy(() => {
      ctx.metrics.log(`reg/${name}`, tf.mul(squared, alpha));
      ctx.metrics.log("fisher/penalty_trace", tf.mul(squared, size));
    });
  };

  return {
    name,
    stats,

    setup(ctx) {
      stream.reset(ctx);
    },

    beforeBackward(ctx) {
      // A chain of dense layers: the term and its gradient 2 alpha H g now,
      // in one forward and backward pass and the R-operator, with no tape.
      disposeAhead();
      if (method !== "exact") return;
      if (!isPenaltyStep(ctx.counters.step, every)) return;
      const chain = chainOf(ctx);
      if (!chain) return;
      const sub = begin(ctx);
      try {
        ahead = rOperatorTerm(ctx, chain, sub);
      } finally {
        sub.x.dispose();
        sub.y.dispose();
      }
    },

    loss(ctx, loss) {
      if (method !== "exact") return;
      if (!isPenaltyStep(ctx.counters.step, every)) return;
      // The value computed ahead is a constant here: no gradient flows back
      // through it, and afterBackward adds the gradient instead.
      if (ahead) return tf.add(loss, ahead.term) as tf.Scalar;
      const sub = begin(ctx);
      const random = stream.get(ctx);
      try {
        return tf.tidy(() => {
          const { squaredNorm: squared } = holdingStatistics(
            ctx.model,
            () =>
              gradientNormTerm(
                ctx,
                sub,
                penalized(ctx),
                (logits) => sampleLabels(logits, random),
              ),
          );
          stats.gradientEvaluations++;
          record(ctx, squared, sub.size);
          return tf.add(loss, tf.mul(squared, alpha)) as tf.Scalar;
        });
      } finally {
        sub.x.dispose();
        sub.y.dispose();
      }
    },

    afterBackward(ctx, grads) {
      if (ahead) {
        const { hg } = ahead;
        try {
          return tf.tidy(() =>
            grads.map((g, i) => tf.add(g, tf.mul(hg[i], 2 * alpha)))
          );
        } finally {
          disposeAhead();
        }
      }
      if (method !== "finite-difference") return;
      if (!isPenaltyStep(ctx.counters.step, every)) return;
      const sub = begin(ctx);
      try {
        return holdingStatistics(
          ctx.model,
          () => finiteDifference(ctx, sub, grads),
        );
      } finally {
        sub.x.dispose();
        sub.y.dispose();
      }
    },

    teardown() {
      disposeAhead();
    },

    ...penaltyState(stream, stats),
  };

  /**
   * For a chain of dense layers: with g the gradient of the sub-batch's
   * mean cross-entropy at labels sampled from the model, the term
   * alpha ||g||^2 and, for every trainable weight, H g (g on the penalized
   * weights, zero elsewhere): the gradient of ||g||^2 is 2 H g, the same
   * as double backprop forms.
   */
  function rOperatorTerm(
    ctx: Context,
    chain: DenseStep[],
    sub: SubBatch,
  ): { term: tf.Scalar; hg: tf.Tensor[] } {
    const random = stream.get(ctx);
    // chainOf checked that the chain owns every weight: never undefined.
    const { grads, hg } = denseGradientAndHessian(
      chain,
      sub.x,
      (logits) => sampleLabels(logits, random),
      penalized(ctx),
      ctx.params,
    )!;
    stats.gradientEvaluations++;
    const term = tf.tidy(() => {
      const squared = squaredNorm(grads);
      record(ctx, squared, sub.size);
      return tf.keep(tf.mul(squared, alpha) as tf.Scalar);
    });
    tf.dispose(grads);
    return { term, hg };
  }

  /**
   * grads + alpha * 2 H g, with g the gradient at sampled labels (one
   * evaluation) and H g from central differences of the gradient at
   * theta +- eps g (two more).
   */
  function finiteDifference(
    ctx: Context,
    sub: SubBatch,
    grads: tf.Tensor[],
  ): tf.Tensor[] {
    const random = stream.get(ctx);
    const chosen = penalized(ctx);
    const { grads: g, labels } = labelGradient(
      ctx,
      sub,
      (logits) => sampleLabels(logits, random),
      chosen,
    );
    stats.gradientEvaluations += 3;
    const saved = chosen.map((p) => tf.keep(p.clone()));
    try {
      const squared = squaredNorm(g);
      record(ctx, squared, sub.size);
      const eps = tf.tidy(() =>
        tf.div(epsilon, tf.maximum(tf.sqrt(squared), 1e-30))
      );
      squared.dispose();
      const at = (sign: number) => {
        tf.tidy(() => {
          chosen.forEach((p, i) =>
            p.assign(tf.add(saved[i], tf.mul(g[i], tf.mul(eps, sign))))
          );
        });
        return labelGradient(ctx, sub, labels, ctx.params).grads;
      };
      const plus = at(1);
      const minus = at(-1);
      const out = tf.tidy(() => {
        const scale = tf.div(alpha, eps); // alpha * 2 / (2 eps)
        return grads.map((grad, i) =>
          tf.add(grad, tf.mul(tf.sub(plus[i], minus[i]), scale))
        );
      });
      tf.dispose([...plus, ...minus, eps]);
      return out;
    } finally {
      chosen.forEach((p, i) => p.assign(saved[i]));
      tf.dispose([...saved, ...g]);
    }
  }
}
