/**
 * Internals shared by the gradient-norm penalties (FP, GP, GPr, GPx): option
 * checks, the step schedule, sub-batch selection, label sampling, holding
 * batch-norm running statistics, and the counters tests read.
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import type { LayersModel } from "../core/tf.ts";
import type { Random } from "../core/random.ts";
import type { Batch, Context, Plugin } from "../core/types.ts";
import type { ParamFilter } from "../core/functional.ts";
import {
  crossEntropy,
  squaredNorm,
  trainableParams,
  valueAndGrads,
} from "../core/functional.ts";
import { Stream } from "./_stream.ts";

/** Counts of the work a penalty plugin has done, for tests and reports. */
export interface PenaltyStats {
  /**
   * Extra gradient evaluations the plugin ran (each a backward pass of its
   * own, on top of the loop's). With double backprop the loop's backward
   * also differentiates through them.
   */
  gradientEvaluations: number;
  /** Steps on which the penalty was computed. */
  penaltySteps: number;
  /** The sub-batch size used on the latest penalty step (0 before any). */
  lastSubBatch: number;
  /** The step of the latest penalty step (-1 before any). */
  lastStep: number;
}

/** Fresh, zeroed stats. */
export function emptyStats(): PenaltyStats {
  return {
    gradientEvaluations: 0,
    penaltySteps: 0,
    lastSubBatch: 0,
    lastStep: -1,
  };
}

/** Throws unless `value` is a finite number >= 0. */
export function checkAlpha(plugin: string, field: string, value: number) {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(
      `Cannot make ${plugin}: ${field} is "${value}", expected a finite ` +
        "number >= 0",
    );
  }
}

/** Throws unless `value` is undefined or an integer >= 1. */
export function checkCount(
  plugin: string,
  field: string,
  value: number | undefined,
) {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(
      `Cannot make ${plugin}: ${field} is "${value}", expected an ` +
        "integer >= 1",
    );
  }
}

/** What every gradient-norm penalty sets up from its options. */
export interface PenaltyBasics {
  alpha: number;
  every: number;
  subBatch: number;
  /** The plugin's own seeded stream, "regularizers/<name>". */
  stream: Stream;
  stats: PenaltyStats;
}

/**
 * Checks the options the penalties share (alpha >= 0; every and subBatch
 * integers >= 1, default 10 and 32) and makes the stream and counters.
 */
export function penaltyBasics(
  what: string,
  name: string,
  options: { alpha: number; every?: number; subBatch?: number },
): PenaltyBasics {
  const every = options.every ?? 10;
  const subBatch = options.subBatch ?? 32;
  checkAlpha(what, "alpha", options.alpha);
  checkCount(what, "every", every);
  checkCount(what, "subBatch", subBatch);
  return {
    alpha: options.alpha,
    every,
    subBatch,
    stream: new Stream(`regularizers/${name}`),
    stats: emptyStats(),
  };
}

/** True on the steps a penalty applied every `every` steps is computed. */
export function isPenaltyStep(step: number, every: number): boolean {
  return step % every === 0;
}

/** The current batch, or an error naming the plugin. */
export function requireBatch(ctx: Context, plugin: string): Batch {
  if (!ctx.batch) {
    throw new Error(
      `Cannot compute ${plugin}: ctx.batch is undefined; call it from a ` +
        "batch hook",
    );
  }
  return ctx.batch;
}

/** Rows of a batch chosen for the penalty. */
export interface SubBatch {
  x: tf.Tensor;
  y: tf.Tensor;
  /** Rows of the batch, in the order of `x`. */
  rows: Int32Array;
  size: number;
}

/**
 * `size` rows of `batch`, drawn without replacement from `random` (the whole
 * batch, in order, when `size` is undefined or at least the batch size).
 * The caller disposes `x` and `y`.
 */
export function pickSubBatch(
  batch: Batch,
  size: number | undefined,
  random: Random,
): SubBatch {
  const n = batch.size;
  if (size === undefined || size >= n) {
    const rows = Int32Array.from({ length: n }, (_, i) => i);
    return { x: batch.x.clone(), y: batch.y.clone(), rows, size: n };
  }
  // A partial Fisher-Yates shuffle: the first `size` entries are the draw.
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < size; i++) {
    const j = i + random.int(n - i);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const rows = order.slice(0, size);
  return tf.tidy(() => {
    const at = tf.tensor1d(rows, "int32");
    return {
      x: tf.gather(batch.x, at),
      y: tf.gather(batch.y, at),
      rows,
      size,
    };
  });
}

/**
 * One label per row, drawn from softmax(logits) by inverse transform
 * sampling with `random`. Nothing flows back through the draw.
 */
export function sampleLabels(logits: tf.Tensor, random: Random): Int32Array {
  const [n, classes] = logits.shape as [number, number];
  const probs = tf.tidy(() => tf.softmax(logits)).dataSync();
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const u = random.next();
    let c = 0;
    let cumulative = probs[i * classes];
    while (c < classes - 1 && u >= cumulative) {
      c++;
      cumulative += probs[i * classes + c];
    }
    out[i] = c;
  }
  return out;
}

/** `n` labels drawn uniformly from 0..classes-1. */
export function uniformLabels(
  n: number,
  classes: number,
  random: Random,
): Int32Array {
  return Int32Array.from({ length: n }, () => random.int(classes));
}

/**
 * Runs `fn` and then puts the model's non-trainable weights (batch-norm
 * running mean and variance) back as they were: a training-mode forward in
 * tfjs-layers updates them, and a penalty's extra forward passes must not
 * count as extra updates.
 */
export function holdingStatistics<T>(model: LayersModel, fn: () => T): T {
  const held = model.nonTrainableWeights.map((w) => ({
    variable: w,
    value: tf.keep(w.read().clone()),
  }));
  try {
    return fn();
  } finally {
    for (const { variable, value } of held) {
      variable.write(value);
      value.dispose();
    }
  }
}

/** How a penalty chooses the labels of its sub-batch. */
export type LabelSource = (logits: tf.Tensor, sub: SubBatch) => Int32Array;

/** What {@linkcode gradientNormTerm} computed. */
export interface GradientNormTerm {
  /** ||grad_theta L_labels(theta)||^2 on the sub-batch, differentiable. */
  squaredNorm: tf.Scalar;
  /** The labels used, one per sub-batch row. */
  labels: Int32Array;
}

/**
 * ||grad_theta L(theta)||^2 with L the mean cross-entropy of the sub-batch
 * against labels chosen by `labels` from its logits. Built by a nested
 * gradient, so an enclosing gradient computation differentiates it (double
 * backprop). The forward uses `training` (batch statistics when true).
 */
export function gradientNormTerm(
  ctx: Context,
  sub: SubBatch,
  params: tf.Variable[],
  labels: LabelSource,
): GradientNormTerm {
  let chosen: Int32Array = new Int32Array(0);
  const squared = tf.tidy(() => {
    const { value, grads } = valueAndGrads(() => {
      const logits = ctx.forward(sub.x, true);
      chosen = labels(logits, sub);
      const y = tf.tensor1d(chosen, "int32");
      return crossEntropy(logits, y) as tf.Scalar;
    }, params);
    value.dispose();
    return squaredNorm(grads);
  });
  return { squaredNorm: squared, labels: chosen };
}

/**
 * The gradient of the mean cross-entropy of the sub-batch, with respect to
 * `wrt`, at the model's current weights, against `labels` (fixed, or chosen
 * from the logits). Not for use where an enclosing gradient computation
 * should see through it.
 */
export function labelGradient(
  ctx: Context,
  sub: SubBatch,
  labels: Int32Array | LabelSource,
  wrt: tf.Variable[],
): { grads: tf.Tensor[]; labels: Int32Array } {
  let chosen: Int32Array = typeof labels === "function"
    ? new Int32Array(0)
    : labels;
  const grads = tf.tidy(() => {
    const { value, grads } = valueAndGrads(() => {
      const logits = ctx.forward(sub.x, true);
      if (typeof labels === "function") chosen = labels(logits, sub);
      const y = tf.tensor1d(chosen, "int32");
      return crossEntropy(logits, y) as tf.Scalar;
    }, wrt);
    value.dispose();
    return grads;
  });
  return { grads, labels: chosen };
}

/** The penalized weights of a context's model, chosen once per model. */
export function paramSelector(
  filter: ParamFilter,
): (ctx: Context) => tf.Variable[] {
  const selected = new WeakMap<LayersModel, tf.Variable[]>();
  return (ctx) => {
    let vars = selected.get(ctx.model);
    if (!vars) {
      vars = trainableParams(ctx.model, filter);
      selected.set(ctx.model, vars);
    }
    return vars;
  };
}

/** Checkpoint hooks saving a plugin's random stream and counters. */
export function penaltyState(
  stream: Stream,
  stats: PenaltyStats,
): Pick<Plugin, "getState" | "setState"> {
  return {
    getState() {
      return { random: stream.state(), stats: { ...stats } };
    },
    setState(state: unknown) {
      const saved = state as {
        random?: number[];
        stats?: Partial<PenaltyStats>;
      };
      stream.restore(saved?.random);
      Object.assign(stats, saved?.stats ?? {});
    },
  };
}
