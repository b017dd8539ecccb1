/**
 * Differentiable building blocks shared by the loop, the regularizers and the
 * evaluators: the loss, parameter selection, gradients of a scalar with
 * respect to chosen weights, and Hessian-vector products.
 *
 * Everything here is built from kernels whose gradients tfjs registers (plus
 * the ones fisherlab adds), so gradients of gradients work: that is what the
 * Fisher penalty and the Hessian evaluators need.
 *
 * @module
 */
import { tf } from "./tf.ts";
import type { LayersModel } from "./tf.ts";
import { fusedCrossEntropy } from "./kernels/cross_entropy.ts";
import { dot, squaredSum } from "./kernels/dot.ts";

/**
 * Log-probabilities log softmax(z) along the last axis.
 *
 * Written with primitive ops rather than tf.logSoftmax so that every
 * intermediate is on the gradient tape, which second derivatives need. The
 * shift by the maximum keeps exp finite and is held constant: its gradient
 * cancels exactly, so it is left off the tape.
 */
export function logSoftmax(logits: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const shift = rowMax(logits);
    const shifted = tf.sub(logits, shift);
    const lse = tf.log(tf.sum(tf.exp(shifted), -1, true));
    return tf.sub(shifted, lse);
  });
}

/** The maximum along the last axis, held constant under differentiation. */
const rowMax = tf.customGrad((x, _save) => ({
  value: tf.max(x as tf.Tensor, -1, true),
  gradFunc: () => tf.zerosLike(x as tf.Tensor),
})) as (x: tf.Tensor) => tf.Tensor;

/** Options for {@linkcode crossEntropy}. */
export interface CrossEntropyOptions {
  /** "mean" over the batch (default), "sum", or "none" (one per example). */
  reduction?: "mean" | "sum" | "none";
}

/**
 * Softmax cross-entropy -log p(y | x) of integer labels under logits.
 *
 * @example
 * ```ts
 * import { tf } from "./tf.ts";
 * import { crossEntropy } from "./functional.ts";
 * const loss = crossEntropy(tf.zeros([2, 4]), tf.tensor1d([0, 3], "int32"));
 * console.assert(Math.abs(loss.dataSync()[0] - Math.log(4)) < 1e-6);
 * ```
 */
export function crossEntropy(
  logits: tf.Tensor,
  labels: tf.Tensor,
  options: CrossEntropyOptions = {},
): tf.Tensor {
  const reduction = options.reduction ?? "mean";
  return tf.tidy(() => {
    const classes = logits.shape[logits.shape.length - 1];
    // One kernel each way where it can run (kernels/cross_entropy.ts).
    const nll = fusedCrossEntropy(logits, labels) ??
      tf.neg(tf.sum(
        tf.mul(
          tf.oneHot(tf.cast(labels, "int32"), classes),
          logSoftmax(logits),
        ),
        -1,
      ));
    if (reduction === "none") return nll;
    return reduction === "sum" ? tf.sum(nll) : tf.mean(nll);
  });
}

/** Which weights count: all trainable ones, or those a predicate keeps. */
export type ParamFilter = "all" | "no-batchnorm" | ((name: string) => boolean);

/**
 * The trainable variables of `model`, optionally filtered by name.
 * "no-batchnorm" leaves out the gamma and beta of batch-norm layers.
 */
export function trainableParams(
  model: LayersModel,
  filter: ParamFilter = "all",
): tf.Variable[] {
  const keep = filter === "all"
    ? () => true
    : filter === "no-batchnorm"
    ? (name: string) => !/batch_?norm/i.test(name)
    : filter;
  const vars = model.trainableWeights
    .filter((w) => keep(w.originalName))
    .map((w) => w.read() as tf.Variable);
  if (vars.length === 0) {
    throw new RangeError(
      "Cannot select parameters: the filter kept none of " +
        model.trainableWeights.map((w) => `"${w.originalName}"`).join(", "),
    );
  }
  return vars;
}

/**
 * Runs `model` on `x`. `training` selects batch statistics (true) or running
 * statistics (false) in batch-norm layers, and turns dropout on or off.
 */
export function forward(
  model: LayersModel,
  x: tf.Tensor,
  training: boolean,
): tf.Tensor {
  return model.apply(x, { training }) as tf.Tensor;
}

/** A scalar and its gradient with respect to each chosen variable. */
export interface ValueAndGrads {
  value: tf.Scalar;
  grads: tf.Tensor[];
}

/**
 * The value of `f` and its gradients with respect to `params`, in order.
 * Works inside an outer gradient computation (double backprop).
 */
export function valueAndGrads(
  f: () => tf.Scalar,
  params: tf.Variable[],
): ValueAndGrads {
  const { value, grads } = tf.variableGrads(f, params);
  return { value, grads: params.map((p) => grads[p.name]) };
}

/** The sum over a list of tensors of <a_i, b_i>. */
export function dotAll(a: tf.Tensor[], b: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.addN(a.map((t, i) => dot(t, b[i]))) as tf.Scalar);
}

/** The sum of squares of every entry of a list of tensors: ||g||^2. */
export function squaredNorm(tensors: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.addN(tensors.map((t) => squaredSum(t))) as tf.Scalar);
}

/**
 * The Hessian-vector product H v of the scalar `f` with respect to `params`,
 * by double backprop: H v = grad_theta (grad_theta f . v) (Pearlmutter, 1994).
 */
export function hessianVectorProduct(
  f: () => tf.Scalar,
  params: tf.Variable[],
  v: tf.Tensor[],
): tf.Tensor[] {
  return tf.tidy(() => {
    const { grads } = valueAndGrads(() => {
      const inner = valueAndGrads(f, params);
      return dotAll(inner.grads, v);
    }, params);
    return grads;
  });
}
