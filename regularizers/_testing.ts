/**
 * Test fixtures for the regularizers: tiny models, a hand-made context, and
 * independent computations (finite differences, exact Tr(F) over classes).
 *
 * @module
 */
import { tf, tfl } from "../core/tf.ts";
import type { LayersModel } from "../core/tf.ts";
import { Random } from "../core/random.ts";
import type { Context, MetricRecord, Plugin } from "../core/types.ts";
import {
  crossEntropy,
  forward,
  squaredNorm,
  valueAndGrads,
} from "../core/functional.ts";

/** A small MLP with tanh (so logits have curvature in every weight). */
export function tinyMlp(
  inputs = 5,
  hidden = 8,
  classes = 4,
  seed = 1,
): LayersModel {
  const init = (s: number) => tfl.initializers.glorotNormal({ seed: s });
  return tfl.sequential({
    layers: [
      tfl.layers.dense({
        units: hidden,
        activation: "tanh",
        inputShape: [inputs],
        kernelInitializer: init(seed),
        biasInitializer: tfl.initializers.randomNormal({
          stddev: 0.1,
          seed: seed + 1,
        }),
      }),
      tfl.layers.dense({
        units: classes,
        kernelInitializer: init(seed + 2),
      }),
    ],
  });
}

/** A small CNN: conv 4 3x3 relu, maxpool 2, dense `classes`. */
export function tinyCnn(classes = 3, seed = 3): LayersModel {
  const init = (s: number) => tfl.initializers.glorotNormal({ seed: s });
  return tfl.sequential({
    layers: [
      tfl.layers.conv2d({
        filters: 4,
        kernelSize: 3,
        activation: "relu",
        inputShape: [6, 6, 1],
        kernelInitializer: init(seed),
        biasInitializer: tfl.initializers.constant({ value: 0.05 }),
      }),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      tfl.layers.flatten(),
      tfl.layers.dense({ units: classes, kernelInitializer: init(seed + 1) }),
    ],
  });
}

/** A batch of `n` standard-normal inputs of `shape` and random labels. */
export function makeBatch(
  n: number,
  shape: number[],
  classes: number,
  seed = 11,
): { x: tf.Tensor; y: tf.Tensor } {
  const random = new Random(seed);
  const size = n * shape.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: size }, () => random.normal());
  const labels = Int32Array.from({ length: n }, () => random.int(classes));
  return {
    x: tf.tensor(values, [n, ...shape]),
    y: tf.tensor1d(labels, "int32"),
  };
}

/** A hand-made context, with a sink that reads each value as it is logged. */
export interface TestContext extends Context {
  records: MetricRecord[];
  counters: Context["counters"];
}

/** Builds a context around `model` and one batch, at step 0. */
export function makeContext(
  model: LayersModel,
  batch: { x: tf.Tensor; y: tf.Tensor },
  seed = 5,
  lr = 0.1,
): TestContext {
  const records: MetricRecord[] = [];
  const counters = {
    epoch: 0,
    step: 0,
    batchInEpoch: 0,
    stepsPerEpoch: 1,
    examplesSeen: 0,
    epochs: 1,
  };
  const size = batch.x.shape[0];
  const ctx = {
    records,
    counters,
    model,
    params: model.trainableWeights.map((w) => w.read() as tf.Variable),
    optimizer: { name: "test", learningRate: lr },
    batch: {
      x: batch.x,
      y: batch.y,
      indices: Int32Array.from({ length: size }, (_, i) => i),
      size,
    },
    logits: undefined,
    random: new Random(seed),
    batchSize: size,
    metrics: {
      log(name: string, value: number | tf.Tensor) {
        const v = typeof value === "number" ? value : value.dataSync()[0];
        records.push({
          name,
          value: v,
          step: counters.step,
          epoch: 0,
          scope: "step",
        });
      },
    },
    forward: (x: tf.Tensor, training: boolean) => forward(model, x, training),
    lossFn: (logits: tf.Tensor, labels: tf.Tensor) =>
      crossEntropy(logits, labels) as tf.Scalar,
  };
  return ctx as unknown as TestContext;
}

/** The latest value logged under `name`. */
export function lastMetric(ctx: TestContext, name: string): number {
  const found = ctx.records.filter((r) => r.name === name);
  if (found.length === 0) throw new Error(`No metric "${name}" was logged`);
  return found[found.length - 1].value;
}

/**
 * The term `plugin` adds in its loss hook to a zero loss, as a function of
 * the weights, and its gradient by backprop through the hook.
 */
export function termAndGrad(
  plugin: () => Plugin,
  ctx: Context,
): { value: number; grads: Float32Array[] } {
  const p = plugin();
  const { value, grads } = valueAndGrads(
    () => p.loss!(ctx, tf.scalar(0)) as tf.Scalar,
    ctx.params,
  );
  const out = {
    value: value.dataSync()[0],
    grads: grads.map((g) => g.dataSync() as Float32Array),
  };
  tf.dispose([value, ...grads]);
  return out;
}

/** The term alone, with a fresh plugin (so the same seeded draws). */
export function termValue(plugin: () => Plugin, ctx: Context): number {
  return tf.tidy(() => {
    const t = plugin().loss!(ctx, tf.scalar(0)) as tf.Scalar;
    return t.dataSync()[0];
  });
}

/**
 * The largest relative error between <grad, d> and the central difference
 * [f(theta + h d) - f(theta - h d)] / 2h over `directions` random d.
 */
export function directionalError(
  f: () => number,
  grads: Float32Array[],
  params: tf.Variable[],
  options: { h?: number; directions?: number; seed?: number } = {},
): number {
  const h = options.h ?? 1e-2;
  const random = new Random(options.seed ?? 21);
  const saved = params.map((p) => tf.keep(p.clone()));
  let worst = 0;
  for (let k = 0; k < (options.directions ?? 3); k++) {
    const d = params.map((p) =>
      Float32Array.from({ length: p.size }, () => random.normal())
    );
    // A unit direction, so h is the length of the step in weight space.
    const length = Math.sqrt(
      d.reduce((s, di) => s + di.reduce((t, v) => t + v * v, 0), 0),
    );
    d.forEach((di) => di.forEach((v, j) => di[j] = v / length));
    const analytic = grads.reduce(
      (sum, g, i) => sum + g.reduce((s, v, j) => s + v * d[i][j], 0),
      0,
    );
    const shifted = (s: number) => {
      params.forEach((p, i) =>
        tf.tidy(() =>
          p.assign(tf.add(saved[i], tf.mul(tf.tensor(d[i], p.shape), s)))
        )
      );
      return f();
    };
    const numeric = (shifted(h) - shifted(-h)) / (2 * h);
    params.forEach((p, i) => p.assign(saved[i]));
    const scale = Math.max(Math.abs(numeric), Math.abs(analytic), 1e-6);
    worst = Math.max(worst, Math.abs(numeric - analytic) / scale);
  }
  tf.dispose(saved);
  return worst;
}

/**
 * Per-example Tr(F) exactly over classes, sum_c p(c|x) ||g(x, c)||^2, with
 * one gradient per example and class (no sampling).
 */
export function exactTraces(
  model: LayersModel,
  x: tf.Tensor,
  params: tf.Variable[],
): number[] {
  const n = x.shape[0];
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const xi = tf.slice(x, i, 1);
    const probs = tf.tidy(() => tf.softmax(forward(model, xi, false)));
    const p = probs.dataSync();
    let trace = 0;
    for (let c = 0; c < p.length; c++) {
      const norm = tf.tidy(() => {
        const y = tf.tensor1d([c], "int32");
        const { value, grads } = valueAndGrads(
          () => crossEntropy(forward(model, xi, false), y) as tf.Scalar,
          params,
        );
        value.dispose();
        return squaredNorm(grads);
      });
      trace += p[c] * norm.dataSync()[0];
      norm.dispose();
    }
    tf.dispose([xi, probs]);
    out.push(trace);
  }
  return out;
}
