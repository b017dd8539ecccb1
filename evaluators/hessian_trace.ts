/**
 * Tr(H), the trace of the Hessian of the training loss, by Hutchinson's
 * estimator with Rademacher probes.
 *
 * @module
 */
import type { LayersModel } from "../core/tf.ts";
import { Random } from "../core/random.ts";
import type { LabelledData } from "./_data.ts";
import { dot, meanAndStandardError } from "./_linalg.ts";
import {
  type CurvatureOperator,
  lossHessian,
  type LossHessianOptions,
} from "./hessian_operator.ts";

/** A trace estimate with its standard error. */
export interface TraceEstimate {
  /** The mean of the probe values v^T H v. */
  trace: number;
  /** Standard error of the mean over probes (NaN with one probe). */
  se: number;
  /** Probes used. */
  probes: number;
  /** True when the target relative error was reached. */
  converged: boolean;
  /** Each probe's value v^T H v, in order. */
  samples: number[];
}

/** Options for {@linkcode hutchinsonTrace}. */
export interface HutchinsonOptions {
  /** The probe budget. Default 100. */
  maxProbes?: number;
  /** Probes always taken before stopping early. Default 10. */
  minProbes?: number;
  /**
   * Stop once se / |trace| is at most this. Default 0.05; 0 uses the whole
   * budget.
   */
  relativeError?: number;
  /** Source of the probes. Default `new Random(0)`. */
  random?: Random;
}

/**
 * Tr(H) = E_v[v^T H v] for Rademacher v, averaged over probes until the
 * relative standard error reaches `relativeError` or the budget is spent.
 * Source: Hutchinson 1989; Avron and Toledo 2011 (J. ACM 58(2)), sec. 2.
 *
 * @example Trace of a diagonal operator
 * ```ts
 * import { hutchinsonTrace } from "./hessian_trace.ts";
 * const op = {
 *   dim: 2,
 *   apply: (v: Float64Array) => Promise.resolve(Float64Array.of(v[0], 3 * v[1])),
 * };
 * const est = await hutchinsonTrace(op, { maxProbes: 5 });
 * console.assert(Math.abs(est.trace - 4) < 1e-9);
 * ```
 */
export async function hutchinsonTrace(
  op: CurvatureOperator,
  options: HutchinsonOptions = {},
): Promise<TraceEstimate> {
  const maxProbes = options.maxProbes ?? 100;
  const minProbes = Math.min(options.minProbes ?? 10, maxProbes);
  const target = options.relativeError ?? 0.05;
  if (!Number.isInteger(maxProbes) || maxProbes < 1) {
    throw new RangeError(
      `Cannot estimate a trace: maxProbes is "${maxProbes}"; ` +
        "give a positive integer",
    );
  }
  const random = options.random ?? new Random(0);
  const samples: number[] = [];
  let converged = false;
  while (samples.length < maxProbes) {
    const v = random.signs(op.dim);
    samples.push(
      op.quadratic ? await op.quadratic(v) : dot(v, await op.apply(v)),
    );
    if (samples.length >= Math.max(minProbes, 2) && target > 0) {
      const { mean, se } = meanAndStandardError(samples);
      if (se <= target * Math.abs(mean)) {
        converged = true;
        break;
      }
    }
  }
  const { mean, se } = meanAndStandardError(samples);
  return { trace: mean, se, probes: samples.length, converged, samples };
}

/** Options for {@linkcode hessianTrace}. */
export interface HessianTraceOptions
  extends LossHessianOptions, HutchinsonOptions {}

/**
 * Tr(H) of the mean cross-entropy of `model` on `data` by Hutchinson's
 * estimator (Avron and Toledo 2011), H v as {@linkcode lossHessian}
 * forms it.
 *
 * @example
 * ```ts
 * import { tf, tfl } from "../core/tf.ts";
 * import { hessianTrace } from "./hessian_trace.ts";
 * const model = tfl.sequential({
 *   layers: [tfl.layers.dense({ units: 3, inputShape: [2] })],
 * });
 * const x = tf.randomNormal([8, 2]);
 * const y = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], "int32");
 * const est = await hessianTrace(model, { x, y }, { maxProbes: 4 });
 * console.assert(est.probes <= 4 && est.trace > 0);
 * tf.dispose([x, y]);
 * model.dispose();
 * ```
 */
export async function hessianTrace(
  model: LayersModel,
  data: LabelledData,
  options: HessianTraceOptions = {},
): Promise<TraceEstimate> {
  const op = lossHessian(model, data, options);
  try {
    return await hutchinsonTrace(op, options);
  } finally {
    op.dispose();
  }
}
