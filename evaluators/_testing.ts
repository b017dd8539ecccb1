/**
 * Fixtures for the evaluator tests: a tiny seeded MLP and data, and the
 * exact Hessian and Fisher matrices formed entry by entry.
 *
 * @module
 */
import { tf, tfl } from "../core/tf.ts";
import type { LayersModel } from "../core/tf.ts";
import { logSoftmax } from "../core/functional.ts";
import { Random } from "../core/random.ts";
import { resnet } from "../models/resnet.ts";
import { symmetricEigen } from "./_linalg.ts";
import type { LabelledData } from "./_data.ts";
import type { CurvatureOperator } from "./hessian_operator.ts";

/** Options for {@linkcode tinyMlp}. */
export interface TinyMlpOptions {
  /** Hidden activation. Default "relu". */
  activation?: "relu" | "tanh";
  /** Layer widths, input first. Default [3, 4, 3]. */
  widths?: number[];
  /** Seed of the weights. Default 1. */
  seed?: number;
  /** Put a batch-norm layer after the hidden dense layer. Default false. */
  batchNorm?: boolean;
}

/** A small dense classifier with seeded weights; the last layer is linear. */
export function tinyMlp(options: TinyMlpOptions = {}): LayersModel {
  const widths = options.widths ?? [3, 4, 3];
  const layers: ReturnType<typeof tfl.layers.dense>[] = [];
  for (let l = 1; l < widths.length; l++) {
    const last = l === widths.length - 1;
    layers.push(tfl.layers.dense({
      units: widths[l],
      activation: last ? "linear" : options.activation ?? "relu",
      ...(l === 1 ? { inputShape: [widths[0]] } : {}),
    }));
    if (!last && options.batchNorm) {
      layers.push(tfl.layers.batchNormalization() as never);
    }
  }
  const model = tfl.sequential({ layers });
  const random = new Random(options.seed ?? 1);
  const weights = model.getWeights().map((w) => {
    const name = (w as unknown as { name?: string }).name ?? "";
    const values = Float32Array.from(
      { length: w.size },
      () => /variance/.test(name) ? 1 : 0.8 * random.normal(),
    );
    return tf.tensor(values, w.shape);
  });
  model.setWeights(weights);
  tf.dispose(weights);
  return model;
}

/** `n` seeded examples with `features` inputs and labels below `classes`. */
export function tinyData(
  n: number,
  features: number,
  classes: number,
  seed = 2,
): LabelledData {
  const random = new Random(seed);
  const x = Float32Array.from({ length: n * features }, () => random.normal());
  const y = Int32Array.from({ length: n }, () => random.int(classes));
  return { x: tf.tensor2d(x, [n, features]), y: tf.tensor1d(y, "int32") };
}

/** The dense matrix of an operator, column by column from unit vectors. */
export async function denseMatrix(op: CurvatureOperator): Promise<number[][]> {
  const cols: Float64Array[] = [];
  for (let j = 0; j < op.dim; j++) {
    const e = new Float64Array(op.dim);
    e[j] = 1;
    cols.push(await op.apply(e));
  }
  // Symmetrize away float32 rounding.
  return cols.map((_, i) => cols.map((_, j) => (cols[i][j] + cols[j][i]) / 2));
}

/** g(x_i, c) = grad log p(c | x_i) of one example, flattened. */
export function exampleGradient(
  model: LayersModel,
  x: tf.Tensor,
  i: number,
  c: number,
  params: tf.Variable[],
): Float64Array {
  const flat = tf.tidy(() => {
    const { grads } = tf.variableGrads(() => {
      const logp = logSoftmax(model.apply(tf.slice(x, i, 1)) as tf.Tensor);
      return tf.squeeze(tf.slice(logp, [0, c], [1, 1])) as tf.Scalar;
    }, params);
    return tf.concat(params.map((p) => tf.reshape(grads[p.name], [-1])));
  });
  const out = Float64Array.from(flat.dataSync());
  flat.dispose();
  return out;
}

/**
 * The exact true Fisher mean_i sum_c p(c|x_i) g g^T and the empirical one
 * mean_i g(x_i, y_i) g(x_i, y_i)^T, formed from per-example per-class
 * gradients, running statistics (no batch norm expected).
 */
export function exactFishers(
  model: LayersModel,
  data: LabelledData,
  params: tf.Variable[],
): { fisher: number[][]; empirical: number[][] } {
  const n = data.x.shape[0];
  const probs = tf.tidy(() =>
    tf.softmax(model.apply(data.x) as tf.Tensor).arraySync() as number[][]
  );
  const labels = data.y.arraySync() as number[];
  const dim = params.reduce((s, p) => s + p.size, 0);
  const zero = () => Array.from({ length: dim }, () => new Array(dim).fill(0));
  const fisher = zero();
  const empirical = zero();
  const add = (m: number[][], g: Float64Array, w: number) => {
    for (let a = 0; a < dim; a++) {
      for (let b = 0; b < dim; b++) m[a][b] += w * g[a] * g[b];
    }
  };
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < probs[i].length; c++) {
      const g = exampleGradient(model, data.x, i, c, params);
      add(fisher, g, probs[i][c] / n);
      if (c === labels[i]) add(empirical, g, 1 / n);
    }
  }
  return { fisher, empirical };
}

/** The trace of a square matrix. */
export function trace(m: number[][]): number {
  return m.reduce((s, row, i) => s + row[i], 0);
}

/** A = Q diag(eigenvalues) Q^T for a seeded random orthogonal Q. */
export function plantedMatrix(eigenvalues: number[], seed: number): number[][] {
  const n = eigenvalues.length;
  const random = new Random(seed);
  const g = Array.from(
    { length: n },
    () => Array.from({ length: n }, () => random.normal()),
  );
  const sym = g.map((row, i) => row.map((_, j) => g[i][j] + g[j][i]));
  const q = symmetricEigen(sym).vectors;
  return q.map((_, i) =>
    q.map((_, j) =>
      eigenvalues.reduce((s, lam, k) => s + lam * q[k][i] * q[k][j], 0)
    )
  );
}

/**
 * A ResNet of models/resnet.ts at width 2 on 8x8x3 images, with its
 * batch-norm statistics, gammas and betas moved away from their defaults
 * so that every batch-norm term counts.
 */
export function tinyResnet(classes = 3, seed = 1): LayersModel {
  const model = resnet({ width: 2, inputShape: [8, 8, 3], classes, seed });
  const random = new Random(seed + 100);
  const perturbed = model.weights.map((w) => {
    const value = w.read();
    const values = value.dataSync().slice();
    const name = w.originalName;
    for (let k = 0; k < values.length; k++) {
      if (name.endsWith("/moving_variance")) {
        values[k] = 0.3 + 2 * random.next();
      } else if (name.endsWith("/gamma")) {
        values[k] = 1 + 0.5 * random.normal();
      } else if (/\/(beta|moving_mean)$/.test(name)) {
        values[k] = 0.5 * random.normal();
      }
    }
    return tf.tensor(values, value.shape);
  });
  model.setWeights(perturbed);
  tf.dispose(perturbed);
  return model;
}

/** `n` seeded images of `shape` (without the batch axis). */
export function tinyImages(n: number, shape: number[], seed = 3): tf.Tensor {
  const random = new Random(seed);
  const size = n * shape.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: size }, () => random.normal());
  return tf.tensor(values, [n, ...shape]);
}
