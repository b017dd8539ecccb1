/**
 * The top k eigenvalues of the loss Hessian by the Lanczos method with full
 * reorthogonalization.
 *
 * @module
 */
import type { LayersModel } from "../core/tf.ts";
import { Random } from "../core/random.ts";
import type { LabelledData } from "./_data.ts";
import { axpy, dot, norm, scale, symmetricEigen } from "./_linalg.ts";
import { randomUnitVector } from "./_start.ts";
import {
  type CurvatureOperator,
  lossHessian,
  type LossHessianOptions,
} from "./hessian_operator.ts";

/** The result of {@linkcode lanczos}. */
export interface LanczosResult {
  /** The k largest Ritz values, descending: estimates of lambda_1..k. */
  eigenvalues: number[];
  /**
   * For each Ritz value theta, the residual norm ||H y - theta y|| of its
   * Ritz vector y: a bound on the distance to an eigenvalue of H.
   */
  residuals: number[];
  /** True when every residual is within the tolerance. */
  converged: boolean;
  /** Lanczos steps (products H v) taken. */
  steps: number;
}

/** Options for {@linkcode lanczos}. */
export interface LanczosOptions {
  /** How many of the largest eigenvalues. Default 1. */
  k?: number;
  /** Most steps. Default max(3k, 30), at most the dimension. */
  maxSteps?: number;
  /**
   * A Ritz value counts as converged when its residual is at most this
   * times the largest Ritz value's magnitude. Default 1e-4.
   */
  tolerance?: number;
  /** Source of the start vector. Default `new Random(0)`. */
  random?: Random;
}

/**
 * The k algebraically largest eigenvalues of the symmetric `op` by Lanczos
 * iteration with full reorthogonalization; the eigenvalues of the small
 * tridiagonal matrix come from Jacobi rotations on the host.
 * Source: Golub and Van Loan, Matrix Computations, sec. 10.1 and 10.3.1.
 *
 * @example
 * ```ts
 * import { lanczos } from "./lanczos.ts";
 * const d = [4, 3, 1];
 * const op = {
 *   dim: 3,
 *   apply: (v: Float64Array) => Promise.resolve(v.map((x, i) => d[i] * x)),
 * };
 * const { eigenvalues } = await lanczos(op, { k: 2 });
 * console.assert(Math.abs(eigenvalues[0] - 4) < 1e-6);
 * console.assert(Math.abs(eigenvalues[1] - 3) < 1e-6);
 * ```
 */
export async function lanczos(
  op: CurvatureOperator,
  options: LanczosOptions = {},
): Promise<LanczosResult> {
  const k = Math.min(options.k ?? 1, op.dim);
  if (!Number.isInteger(k) || k < 1) {
    throw new RangeError(
      `Cannot run Lanczos: k is "${options.k}"; give a positive integer`,
    );
  }
  const maxSteps = Math.min(options.maxSteps ?? Math.max(3 * k, 30), op.dim);
  const tolerance = options.tolerance ?? 1e-4;
  const basis: Float64Array[] = [];
  const alphas: number[] = [];
  const betas: number[] = [];
  let q = randomUnitVector(op.dim, options.random ?? new Random(0));
  let ritz = { eigenvalues: [] as number[], residuals: [] as number[] };
  for (let j = 0; j < maxSteps; j++) {
    basis.push(q);
    const w = await op.apply(q);
    alphas.push(dot(q, w));

    // Two passes of Gram-Schmidt against every basis vector keep the basis
    // orthogonal to working precision ("twice is enough").
    for (let pass = 0; pass < 2; pass++) {
      for (const b of basis) axpy(-dot(b, w), b, w);
    }
    const beta = norm(w);
    ritz = ritzPairs(alphas, betas, beta, k);
    const scaleOf = Math.max(Math.abs(ritz.eigenvalues[0]), 1e-30);
    const exhausted = beta <= 1e-10 * scaleOf;
    const done = ritz.eigenvalues.length === k &&
      ritz.residuals.every((r) => r <= tolerance * scaleOf);
    if (done || exhausted) {
      return { ...ritz, converged: true, steps: j + 1 };
    }
    betas.push(beta);
    q = scale(1 / beta, w);
  }
  return { ...ritz, converged: false, steps: maxSteps };
}

/**
 * The top k eigenvalues of the tridiagonal T (diagonal `alphas`,
 * off-diagonal `betas`) and their residuals |beta_next * s_last|.
 */
function ritzPairs(
  alphas: number[],
  betas: number[],
  betaNext: number,
  k: number,
): { eigenvalues: number[]; residuals: number[] } {
  const m = alphas.length;
  const t = Array.from({ length: m }, () => new Float64Array(m));
  for (let i = 0; i < m; i++) {
    t[i][i] = alphas[i];
    if (i + 1 < m) t[i][i + 1] = t[i + 1][i] = betas[i];
  }
  const { values, vectors } = symmetricEigen(t);
  const top = Math.min(k, m);
  return {
    eigenvalues: values.slice(0, top),
    residuals: vectors.slice(0, top).map((s) => Math.abs(betaNext * s[m - 1])),
  };
}

/** Options for {@linkcode topEigenvalues}. */
export interface TopEigenvaluesOptions
  extends LossHessianOptions, LanczosOptions {}

/**
 * The k largest eigenvalues lambda_1 >= ... >= lambda_k of the Hessian of
 * the mean cross-entropy of `model` on `data`, by Lanczos with full
 * reorthogonalization. Source: Golub and Van Loan, sec. 10.1.
 *
 * @example
 * ```ts
 * import { tf, tfl } from "../core/tf.ts";
 * import { topEigenvalues } from "./lanczos.ts";
 * const model = tfl.sequential({
 *   layers: [tfl.layers.dense({ units: 3, inputShape: [2] })],
 * });
 * const x = tf.randomNormal([8, 2]);
 * const y = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], "int32");
 * const { eigenvalues } = await topEigenvalues(model, { x, y }, { k: 2 });
 * console.assert(eigenvalues[0] >= eigenvalues[1]);
 * tf.dispose([x, y]);
 * model.dispose();
 * ```
 */
export async function topEigenvalues(
  model: LayersModel,
  data: LabelledData,
  options: TopEigenvaluesOptions = {},
): Promise<LanczosResult> {
  const op = lossHessian(model, data, options);
  try {
    return await lanczos(op, options);
  } finally {
    op.dispose();
  }
}
