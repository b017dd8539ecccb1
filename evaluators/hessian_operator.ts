/**
 * The Hessian of a loss as a linear operator on host vectors: the building
 * block of Hutchinson's trace estimator, power iteration and Lanczos.
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import type { LayersModel } from "../core/tf.ts";
import { dot } from "../core/kernels/dot.ts";
import { denseChain, denseHessianVectorProduct } from "./_dense_hvp.ts";
import {
  crossEntropy,
  forward,
  hessianVectorProduct,
} from "../core/functional.ts";
import {
  chunksOf,
  type CurvatureOptions,
  disposeChunks,
  flatten,
  keepingStatistics,
  type LabelledData,
  resolve,
  sizeOf,
  unflatten,
} from "./_data.ts";

/**
 * A symmetric linear map v -> H v on vectors of length `dim`, in the order
 * of the parameters it was built over (each flattened row-major).
 */
export interface CurvatureOperator {
  /** Length of the vectors it maps. */
  readonly dim: number;
  /** H v, a new vector. */
  apply(v: Float64Array): Promise<Float64Array>;
  /**
   * v^T H v, where the operator can form it without bringing H v back to
   * the host (one number per parameter tensor read back, added in
   * float64). Optional: callers fall back to `apply` and a dot product.
   */
  quadratic?(v: Float64Array): Promise<number>;
}

/**
 * The Hessian of the scalar `f` with respect to `params`, applied by double
 * backprop (Pearlmutter 1994).
 *
 * @example The Hessian of 0.5 * a * w^2 is a
 * ```ts
 * import { tf } from "../core/tf.ts";
 * import { hessianOperator } from "./hessian_operator.ts";
 * const w = tf.variable(tf.scalar(2));
 * const op = hessianOperator(() => tf.mul(1.5, tf.square(w)), [w]);
 * const hv = await op.apply(new Float64Array([1]));
 * console.assert(Math.abs(hv[0] - 3) < 1e-6);
 * w.dispose();
 * ```
 */
export function hessianOperator(
  f: () => tf.Scalar,
  params: tf.Variable[],
): CurvatureOperator {
  return weightedHessian([{ weight: 1, f }], params);
}

/** Options for {@linkcode lossHessian}. */
export interface LossHessianOptions extends CurvatureOptions {
  /**
   * The loss of logits against labels; must be a mean over the examples,
   * since chunks are combined by their share of the data. Default: mean
   * cross-entropy.
   */
  loss?: (logits: tf.Tensor, labels: tf.Tensor) => tf.Scalar;
}

/** A curvature operator that holds device data until disposed. */
export interface DisposableOperator extends CurvatureOperator {
  /** Frees the chunks of data the operator holds. */
  dispose(): void;
}

/**
 * The Hessian H of the training loss L(theta) (mean cross-entropy over
 * `data`) with respect to the chosen parameters, as an operator. Large
 * data are split into chunks of `batchSize`; H v is their weighted sum.
 * H v is by double backprop (Pearlmutter 1994), or, for a Sequential chain
 * of dense layers (linear or ReLU) under the default loss, by the
 * R-operator of evaluators/_dense_hvp.ts: the same product without a tape.
 * Call `dispose` when done.
 */
export function lossHessian(
  model: LayersModel,
  data: LabelledData,
  options: LossHessianOptions = {},
): DisposableOperator {
  const { training, params, batchSize } = resolve(model, options);
  const loss = options.loss ??
    ((z: tf.Tensor, y: tf.Tensor) => crossEntropy(z, y) as tf.Scalar);
  const n = sizeOf(data);
  const chunks = chunksOf(data, batchSize);
  // A chain of dense layers under the default loss takes the R-operator,
  // which needs no tape; anything else double backprop.
  const chain = options.loss === undefined ? denseChain(model) : undefined;
  const terms = chunks.map((c): Term => ({
    weight: c.y.shape[0] / n,
    f: () => loss(forward(model, c.x, training), c.y),
    hvp: chain
      ? (vs) => denseHessianVectorProduct(chain, c.x, c.y, params, vs)
      : undefined,
  }));
  const op = weightedHessian(terms, params);
  return {
    dim: op.dim,
    apply: (v) => keepingStatistics(model, training, () => op.apply(v)),
    quadratic: (v) => keepingStatistics(model, training, () => op.quadratic(v)),
    dispose: () => disposeChunks(chunks),
  };
}

interface Term {
  weight: number;
  f: () => tf.Scalar;
  /** H v of f by another route than double backprop, when it has one. */
  hvp?: (v: tf.Tensor[]) => tf.Tensor[] | undefined;
}

function weightedHessian(
  terms: Term[],
  params: tf.Variable[],
): Required<CurvatureOperator> {
  const dim = params.reduce((s, p) => s + p.size, 0);
  /** H v as tensors shaped like the parameters, with v as such tensors. */
  const product = (v: Float64Array): { hv: tf.Tensor[]; vs: tf.Tensor[] } => {
    if (v.length !== dim) {
      throw new RangeError(
        `Cannot apply the Hessian: the vector has length "${v.length}" ` +
          `but the parameters have ${dim} entries`,
      );
    }
    const vs = unflatten(v, params);
    const hv = tf.tidy(() => {
      let acc: tf.Tensor[] | undefined;
      for (const { weight, f, hvp } of terms) {
        const raw = hvp?.(vs) ?? hessianVectorProduct(f, params, vs);
        const hv = weight === 1 ? raw : raw.map((t) => tf.mul(t, weight));
        acc = acc ? acc.map((a, i) => tf.add(a, hv[i])) : hv;
      }
      return acc!;
    });
    return { hv, vs };
  };
  return {
    dim,
    async apply(v: Float64Array): Promise<Float64Array> {
      const { hv, vs } = product(v);
      tf.dispose(vs);
      const out = await flatten(hv);
      tf.dispose(hv);
      return out;
    },
    async quadratic(v: Float64Array): Promise<number> {
      const { hv, vs } = product(v);
      const parts = tf.tidy(() => tf.stack(hv.map((h, i) => dot(h, vs[i]))));
      tf.dispose([...hv, ...vs]);
      const values = await parts.data();
      parts.dispose();
      let total = 0;
      for (const x of values) total += x;
      return total;
    },
  };
}
