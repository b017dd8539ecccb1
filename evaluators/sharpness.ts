/**
 * lambda_max, the sharpness of the loss: the top eigenvalue of its Hessian
 * by power iteration.
 *
 * @module
 */
import type { LayersModel } from "../core/tf.ts";
import { Random } from "../core/random.ts";
import type { LabelledData } from "./_data.ts";
import { dot, norm, scale } from "./_linalg.ts";
import { randomUnitVector } from "./_start.ts";
import {
  type CurvatureOperator,
  lossHessian,
  type LossHessianOptions,
} from "./hessian_operator.ts";

/** The result of {@linkcode powerIteration}. */
export interface PowerIterationResult {
  /** The last Rayleigh quotient v^T H v, ||v|| = 1 (signed). */
  lambdaMax: number;
  /** True when successive estimates agreed to the tolerance. */
  converged: boolean;
  /** Products H v taken. */
  iterations: number;
  /** The last unit vector v, the eigenvector estimate. */
  vector: Float64Array;
}

/** Options for {@linkcode powerIteration}. */
export interface PowerIterationOptions {
  /** Most products H v. Default 100. */
  maxIterations?: number;
  /**
   * Stop when successive eigenvalue estimates differ by at most this times
   * the latest one. Default 1e-4.
   */
  tolerance?: number;
  /** Source of the start vector when `start` is not given. Default `new Random(0)`. */
  random?: Random;
  /**
   * The start vector, e.g. the `vector` of an earlier run to warm-start
   * from as the weights move during training; scaled to unit length.
   * Default: a random direction from `random`.
   */
  start?: Float64Array;
}

/**
 * The dominant eigenvalue of `op` by power iteration v <- Hv / ||Hv||,
 * reported as the Rayleigh quotient. It converges to the eigenvalue of
 * largest magnitude: lambda_max when no negative eigenvalue is larger in
 * magnitude, as near the minima of a loss. Source: Golub and Van Loan,
 * Matrix Computations, sec. 7.3.1.
 *
 * @example
 * ```ts
 * import { powerIteration } from "./sharpness.ts";
 * const op = {
 *   dim: 2,
 *   apply: (v: Float64Array) => Promise.resolve(Float64Array.of(5 * v[0], v[1])),
 * };
 * const { lambdaMax } = await powerIteration(op);
 * console.assert(Math.abs(lambdaMax - 5) < 1e-3);
 * ```
 */
export async function powerIteration(
  op: CurvatureOperator,
  options: PowerIterationOptions = {},
): Promise<PowerIterationResult> {
  const maxIterations = options.maxIterations ?? 100;
  const tolerance = options.tolerance ?? 1e-4;
  let v = options.start
    ? startVector(op.dim, options.start)
    : randomUnitVector(op.dim, options.random ?? new Random(0));
  let lambda = NaN;
  for (let it = 1; it <= maxIterations; it++) {
    const w = await op.apply(v);
    const next = dot(v, w);
    const size = norm(w);
    const done = size === 0 ||
      Math.abs(next - lambda) <= tolerance * Math.abs(next);
    lambda = next;
    if (size === 0) {
      return { lambdaMax: 0, converged: true, iterations: it, vector: v };
    }
    v = scale(1 / size, w);
    if (done) {
      return { lambdaMax: lambda, converged: true, iterations: it, vector: v };
    }
  }
  return {
    lambdaMax: lambda,
    converged: false,
    iterations: maxIterations,
    vector: v,
  };
}

/** `start` scaled to unit length, after checking it can start anything. */
function startVector(dim: number, start: Float64Array): Float64Array {
  if (start.length !== dim) {
    throw new RangeError(
      `Cannot start power iteration: the start vector has length ` +
        `"${start.length}" but the operator has ${dim} entries`,
    );
  }
  const size = norm(start);
  if (!(size > 0) || !Number.isFinite(size)) {
    throw new RangeError(
      `Cannot start power iteration: the start vector's norm is "${size}"; ` +
        "give a finite, nonzero vector",
    );
  }
  return scale(1 / size, start);
}

/** Options for {@linkcode sharpness}. */
export interface SharpnessOptions
  extends LossHessianOptions, PowerIterationOptions {}

/**
 * lambda_max of the Hessian of the mean cross-entropy of `model` on `data`,
 * by power iteration on Hessian-vector products.
 * Source: Golub and Van Loan, Matrix Computations, sec. 7.3.1.
 *
 * @example
 * ```ts
 * import { tf, tfl } from "../core/tf.ts";
 * import { sharpness } from "./sharpness.ts";
 * const model = tfl.sequential({
 *   layers: [tfl.layers.dense({ units: 3, inputShape: [2] })],
 * });
 * const x = tf.randomNormal([8, 2]);
 * const y = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], "int32");
 * const { lambdaMax } = await sharpness(model, { x, y }, { maxIterations: 20 });
 * console.assert(lambdaMax > 0);
 * tf.dispose([x, y]);
 * model.dispose();
 * ```
 */
export async function sharpness(
  model: LayersModel,
  data: LabelledData,
  options: SharpnessOptions = {},
): Promise<PowerIterationResult> {
  const op = lossHessian(model, data, options);
  try {
    return await powerIteration(op, options);
  } finally {
    op.dispose();
  }
}
