/**
 * Tr(F), the trace of the Fisher information matrix of a classifier, exact,
 * sampled or from one mini-batch gradient; and the empirical Fisher beside
 * it.
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import type { LayersModel } from "../core/tf.ts";
import {
  crossEntropy,
  forward,
  squaredNorm,
  valueAndGrads,
} from "../core/functional.ts";
import { Random } from "../core/random.ts";
import {
  chunksOf,
  type CurvatureOptions,
  disposeChunks,
  keepingStatistics,
  type LabelledData,
  resolve,
  sizeOf,
} from "./_data.ts";
import {
  type PerExampleMethod,
  perExampleMethod,
  perExampleSqNorms,
} from "./_per_example.ts";

export type { PerExampleMethod };

/** How Tr(F) is computed. */
export type FisherMode = "exact" | "sampled" | "mini-batch";

const MODES: readonly FisherMode[] = ["exact", "sampled", "mini-batch"];

/** Options for {@linkcode fisherTrace}. */
export interface FisherTraceOptions extends CurvatureOptions {
  /**
   * "exact" (default): sum over classes c of p(c|x) ||g(x, c)||^2, no
   * sampling error. "sampled": `samples` labels drawn from p(y|x) per
   * example. "mini-batch": for each chunk of B = `batchSize` examples and
   * each of `samples` draws of labels, B ||mean_i g(x_i, yhat_i)||^2, one
   * backward pass each.
   */
  mode?: FisherMode;
  /** Label draws per example ("sampled") or per chunk ("mini-batch"). Default 1. */
  samples?: number;
  /**
   * Also compute the empirical Fisher trace (true labels). Default true.
   * It needs per-example gradients, so in "mini-batch" mode it can cost
   * more than the estimate itself.
   */
  empirical?: boolean;
  /** Source of sampled labels. Default `new Random(0)`. */
  random?: Random;
  /**
   * "auto" (default): per-example gradient norms batched over all rows
   * when every chosen weight is in a dense, 2-D conv or batch-norm layer
   * of a single-input, single-output graph (residual networks included;
   * any other layer allowed when none of its weights is chosen) and, with
   * batch norm anywhere, bn is "running"; else a loop of one backward pass
   * per example and label. "loop" forces the loop.
   */
  perExample?: "auto" | "loop";
}

/** The result of {@linkcode fisherTrace}. */
export interface FisherTraceResult {
  /** The Tr(F) estimate: mean over examples of E_{y~p(y|x)} ||g(x,y)||^2. */
  trace: number;
  /**
   * Its standard error from label sampling, the examples held fixed: 0 in
   * "exact" mode; with one draw per unit (example or chunk), the spread
   * across units is used instead, which also counts their differences and
   * so errs large. NaN when it cannot be estimated (one unit, one draw).
   */
  se: number;
  /** Mean over examples of ||g(x, y_true)||^2, when asked for. */
  empirical?: number;
  mode: FisherMode;
  /** Examples evaluated. */
  examples: number;
  /** How per-example gradients were computed; none in "mini-batch" mode. */
  perExample?: PerExampleMethod;
}

/**
 * Tr(F) of `model` on `data`, where F = E_x E_{y~p(y|x)}[g g^T] and
 * g = grad_theta log p(y|x); exact over classes, sampled, or by the
 * unbiased mini-batch estimate B ||mean_i g(x_i, yhat_i)||^2.
 * Source: Jastrzebski et al. 2021, "Catastrophic Fisher Explosion" (ICML),
 * sec. 3 (Tr(F) and its mini-batch estimate).
 *
 * @example Softmax regression
 * ```ts
 * import { tf, tfl } from "../core/tf.ts";
 * import { fisherTrace } from "./fisher_trace.ts";
 * const model = tfl.sequential({
 *   layers: [tfl.layers.dense({ units: 3, inputShape: [2] })],
 * });
 * const x = tf.randomNormal([8, 2]);
 * const y = tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], "int32");
 * const { trace, empirical } = await fisherTrace(model, { x, y });
 * console.assert(trace > 0 && empirical! > 0);
 * tf.dispose([x, y]);
 * model.dispose();
 * ```
 */
export async function fisherTrace(
  model: LayersModel,
  data: LabelledData,
  options: FisherTraceOptions = {},
): Promise<FisherTraceResult> {
  const mode = options.mode ?? "exact";
  if (!MODES.includes(mode)) {
    throw new RangeError(
      `Cannot compute Tr(F): mode "${mode}" is unknown; choose one of ` +
        MODES.map((m) => `"${m}"`).join(", "),
    );
  }
  const samples = options.samples ?? 1;
  if (!Number.isInteger(samples) || samples < 1) {
    throw new RangeError(
      `Cannot compute Tr(F): samples is "${samples}"; give a positive integer`,
    );
  }
  const resolved = resolve(model, options);
  const n = sizeOf(data);
  const random = options.random ?? new Random(0);
  const method = options.perExample === "loop" ? "loop" : undefined;
  const norms = { ...resolved, method } as const;

  const chunks = chunksOf(data, resolved.batchSize);
  const wantEmpirical = options.empirical ?? true;
  return await keepingStatistics(model, resolved.training, async () => {
    const units: Unit[] = [];
    let empirical = 0;
    for (const chunk of chunks) {
      const args = { model, x: chunk.x, n, samples, random, norms };
      units.push(...await MEASURES[mode](args));
      if (wantEmpirical) {
        const labels = Int32Array.from(await chunk.y.data());
        const sq = await perExampleSqNorms(model, chunk.x, labels, norms);
        for (const v of sq) empirical += v / n;
      }
    }
    const { mean, se } = weightedMean(units);
    const perExample = mode === "mini-batch" && !wantEmpirical
      ? undefined
      : method ?? perExampleMethod(model, resolved.params, resolved.training);
    return {
      trace: mean,
      se: mode === "exact" ? 0 : se,
      ...(wantEmpirical ? { empirical } : {}),
      mode,
      examples: n,
      ...(perExample ? { perExample } : {}),
    };
  }).finally(() => disposeChunks(chunks));
}

/** A weighted share of the estimate and its draws. */
interface Unit {
  weight: number;
  values: number[];
}

/** What each mode needs to measure one chunk. */
interface ChunkArgs {
  model: LayersModel;
  x: tf.Tensor;
  /** Examples in all chunks together. */
  n: number;
  samples: number;
  random: Random;
  norms: { params: tf.Variable[]; training: boolean; method?: "loop" };
}

const MEASURES: Record<FisherMode, (a: ChunkArgs) => Promise<Unit[]>> = {
  /** One unit per example: sum_c p(c|x) ||g(x, c)||^2. */
  async exact({ model, x, n, norms }) {
    const probs = await probabilities(model, x, norms.training);
    const b = x.shape[0];
    const classes = probs.length / b;
    const labels = new Int32Array(classes * b);
    for (let c = 0; c < classes; c++) labels.fill(c, c * b, (c + 1) * b);
    const sq = await perExampleSqNorms(model, x, labels, norms);
    return Array.from({ length: b }, (_, i) => {
      let value = 0;
      for (let c = 0; c < classes; c++) {
        value += probs[i * classes + c] * sq[c * b + i];
      }
      return { weight: 1 / n, values: [value] };
    });
  },

  /** One unit per example: ||g(x, y_s)||^2 for each sampled y_s. */
  async sampled({ model, x, n, samples, random, norms }) {
    const probs = await probabilities(model, x, norms.training);
    const b = x.shape[0];
    const labels = new Int32Array(samples * b);
    for (let s = 0; s < samples; s++) {
      labels.set(sampleLabels(probs, probs.length / b, random), s * b);
    }
    const sq = await perExampleSqNorms(model, x, labels, norms);
    return Array.from({ length: b }, (_, i) => ({
      weight: 1 / n,
      values: Array.from({ length: samples }, (_, s) => sq[s * b + i]),
    }));
  },

  /**
   * One unit per chunk: B ||mean_i g(x_i, yhat_i)||^2 per draw, the labels
   * drawn from the softmax of the same forward pass the gradient takes.
   */
  async "mini-batch"({ model, x, n, samples, random, norms }) {
    const b = x.shape[0];
    const values: number[] = [];
    const draw = (logits: tf.Tensor) => {
      const probs = tf.tidy(() => tf.softmax(logits)).dataSync();
      return sampleLabels(probs, logits.shape[1]!, random);
    };
    for (let s = 0; s < samples; s++) {
      values.push(b * await meanGradSqNorm(model, x, draw, norms));
    }
    return [{ weight: b / n, values }];
  },
};

/** p(c | x_i), row-major [n, classes], in float64 on the host. */
async function probabilities(
  model: LayersModel,
  x: tf.Tensor,
  training: boolean,
): Promise<Float64Array> {
  const p = tf.tidy(() => tf.softmax(forward(model, x, training)));
  const out = Float64Array.from(await p.data() as Float32Array);
  p.dispose();
  return out;
}

/** One label per row, drawn from its probabilities by the inverse CDF. */
export function sampleLabels(
  probs: ArrayLike<number>,
  classes: number,
  random: Random,
): Int32Array {
  const n = probs.length / classes;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const u = random.next();
    let acc = 0;
    let c = 0;
    for (; c < classes - 1; c++) {
      acc += probs[i * classes + c];
      if (u < acc) break;
    }
    out[i] = c;
  }
  return out;
}

/** ||(1/b) sum_i g(x_i, labels_i)||^2 by one backward pass. */
async function meanGradSqNorm(
  model: LayersModel,
  x: tf.Tensor,
  labels: (logits: tf.Tensor) => Int32Array,
  options: { params: tf.Variable[]; training: boolean },
): Promise<number> {
  const sq = tf.tidy(() => {
    const { grads } = valueAndGrads(() => {
      const logits = forward(model, x, options.training);
      const y = tf.tensor1d(labels(logits), "int32");
      return crossEntropy(logits, y) as tf.Scalar;
    }, options.params);
    return squaredNorm(grads);
  });
  const value = (await sq.data())[0];
  sq.dispose();
  return value;
}

/**
 * sum_k w_k mean(values_k) and its standard error: from the spread of each
 * unit's draws when there are two or more, else from the spread across
 * units.
 */
function weightedMean(units: Unit[]): { mean: number; se: number } {
  let mean = 0;
  let variance = 0;
  let w2 = 0;
  const unitMeans: number[] = [];
  for (const { weight, values } of units) {
    const m = values.reduce((a, b) => a + b, 0) / values.length;
    unitMeans.push(m);
    mean += weight * m;
    w2 += weight * weight;
    if (values.length > 1) {
      const ss = values.reduce((a, v) => a + (v - m) ** 2, 0);
      variance += weight * weight * ss / (values.length - 1) / values.length;
    }
  }
  if ((units[0]?.values.length ?? 0) > 1) {
    return { mean, se: Math.sqrt(variance) };
  }
  if (units.length < 2) return { mean, se: NaN };
  const avg = unitMeans.reduce((a, b) => a + b, 0) / unitMeans.length;
  const ss = unitMeans.reduce((a, v) => a + (v - avg) ** 2, 0);
  return { mean, se: Math.sqrt(ss / (unitMeans.length - 1) * w2) };
}
