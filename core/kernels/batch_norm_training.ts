/**
 * Batch normalization with the batch's own statistics, as a batch-norm
 * layer computes it in training mode, in one kernel and one gradient
 * kernel where the backend has them (the native pack registers both for
 * wasm, through oneDNN).
 *
 * tfjs-layers computes it as moments (Mean, Sub, Square, Mean) and then
 * FusedBatchNorm; with the gradients of all five, a training step passes
 * over the layer's activations about seventeen times. The two kernels
 * here pass over them twice forward and twice backward.
 *
 * The gradient kernel has no gradient of its own, so the fused kernels run
 * only where nothing differentiates the gradient: when at most one
 * gradient computation encloses the forward pass (tfjs's engine counts
 * them; its own fused convolution decides the same way). Inside a second
 * one, as for the Fisher penalty or a Hessian-vector product, the layer
 * computes with the composite ops, which differentiate to any order.
 *
 * @module
 */
import { tf, tfl } from "../tf.ts";
import { gradientDepth } from "./_registry.ts";
import { routeLayerCall } from "./_layer_patch.ts";

type Tensor = tf.Tensor;

/** fisherlab's kernel: y, mean and variance of a batch normalization. */
export const BATCH_NORM_TRAINING = "FisherlabBatchNormTraining";

/** fisherlab's kernel: dx, dscale and doffset of the one above. */
export const BATCH_NORM_TRAINING_GRAD = "FisherlabBatchNormTrainingGrad";

/** What {@linkcode batchNormTraining} returns. */
export interface BatchNormTraining {
  /** (x - mean) / sqrt(variance + epsilon) * gamma + beta. */
  y: Tensor;
  /** The mean of each channel over every other axis. */
  mean: Tensor;
  /** The variance of each channel, divided by the count (biased). */
  variance: Tensor;
}

/**
 * Whether {@linkcode batchNormTraining} runs fused for `x` now: float32,
 * rank 2 to 4, a backend with both kernels, and at most one gradient
 * computation enclosing the call.
 */
export function canFuseBatchNorm(x: Tensor): boolean {
  const backend = tf.getBackend();
  const depth = gradientDepth();
  return x.dtype === "float32" && x.rank >= 2 && x.rank <= 4 &&
    depth <= 1 &&
    tf.getKernel(BATCH_NORM_TRAINING, backend) !== undefined &&
    tf.getKernel(BATCH_NORM_TRAINING_GRAD, backend) !== undefined;
}

/**
 * Normalizes `x` over every axis but the last with its own mean and
 * variance, then scales by `gamma` and shifts by `beta` (one per channel;
 * null for none), in the fused kernels; undefined when
 * {@linkcode canFuseBatchNorm} says they cannot run. No gradient flows
 * through the returned mean and variance: they are there for the running
 * averages.
 * Source: Ioffe and Szegedy 2015 (ICML), algorithm 1 and its gradient.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { batchNormTraining } from "./batch_norm_training.ts";
 * const x = tf.tensor2d([[1, 2], [3, 6]]);
 * const out = batchNormTraining(x, null, null, 1e-3);
 * // undefined on a backend without the kernels (wasm without oneDNN)
 * if (out) console.assert(Math.abs(out.mean.dataSync()[1] - 4) < 1e-6);
 * ```
 */
export function batchNormTraining(
  x: Tensor,
  gamma: Tensor | null,
  beta: Tensor | null,
  epsilon: number,
): BatchNormTraining | undefined {
  if (!canFuseBatchNorm(x)) return undefined;
  return tf.tidy(() => {
    const channels = x.shape[x.rank - 1];
    const rows = x.rank === 3 ? x.shape[1]! : 1;
    const as4d = x.rank === 4
      ? x
      : tf.reshape(x, [x.shape[0], rows, 1, channels]);
    const [y, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAINING, {
      x: as4d,
      scale: gamma ?? tf.ones([channels]),
      offset: beta ?? tf.zeros([channels]),
    }, { epsilon }) as Tensor[];
    return { y: x.rank === 4 ? y : tf.reshape(y, x.shape), mean, variance };
  });
}

/**
 * The gradient of the fused kernel: one call of the gradient kernel for
 * x, the scale and the offset. The statistics' own gradients are taken as
 * zero (see {@linkcode batchNormTraining}).
 */
export const batchNormTrainingGrad: tf.GradConfig = {
  kernelName: BATCH_NORM_TRAINING,
  inputsToSave: ["x", "scale", "offset"],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const [x, scale, offset, mean, variance] = saved;
    const dy = (dys as Tensor[])[0];
    // Run here, not in the closures: tfjs disposes what each closure makes
    // but does not return.
    const [dx, dScale, dOffset] = tf.engine().runKernel(
      BATCH_NORM_TRAINING_GRAD,
      { dy, x, scale, offset, mean, variance },
      attrs as unknown as tf.NamedAttrMap,
    ) as Tensor[];
    return { x: () => dx, scale: () => dScale, offset: () => dOffset };
  },
};

/** The parts of tfjs-layers' BatchNormalization the fused call uses. */
interface BatchNormLayer {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma: { read(): Tensor } | null;
  beta: { read(): Tensor } | null;
  movingMean: { read(): Tensor; write(t: Tensor): void };
  movingVariance: { read(): Tensor; write(t: Tensor): void };
}

/**
 * Makes every tfjs-layers BatchNormalization layer normalize over the
 * last axis in training mode with {@linkcode batchNormTraining} when it
 * can run; everything else (inference, other axes, a second enclosing
 * gradient, backends without the kernels) keeps the layer's own code.
 * The running averages are updated with the same arithmetic. Idempotent.
 */
export function fuseBatchNormLayers(): void {
  routeLayerCall<BatchNormLayer>(
    tfl.layers.batchNormalization({}),
    Symbol.for("fisherlab.batchNormTraining"),
    (layer, input, kwargs) => {
      const lastAxis = layer.axis === -1 || layer.axis === input.rank - 1;
      if (!kwargs?.training || !lastAxis || !canFuseBatchNorm(input)) {
        return undefined;
      }
      return tf.tidy(() => {
        const { y, mean, variance } = batchNormTraining(
          input,
          layer.gamma?.read() ?? null,
          layer.beta?.read() ?? null,
          layer.epsilon,
        )!;
        movingAverage(layer.movingMean, mean, layer.momentum);
        movingAverage(layer.movingVariance, variance, layer.momentum);
        return y;
      });
    },
  );
}

/** v <- v - (v - value) (1 - momentum), as tfjs-layers updates it. */
function movingAverage(
  variable: { read(): Tensor; write(t: Tensor): void },
  value: Tensor,
  momentum: number,
): void {
  tf.tidy(() => {
    const old = variable.read();
    variable.write(tf.sub(old, tf.mul(tf.sub(old, value), 1 - momentum)));
  });
}
