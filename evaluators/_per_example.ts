/**
 * Per-example squared gradient norms ||g(x_i, y)||^2, with
 * g(x, y) = grad_theta log p(y | x), for several label sets at once.
 *
 * Two ways. For chains of dense layers (and layers without chosen
 * weights), one batched backward pass: the gradient of a dense kernel for
 * one example is the outer product a_i delta_i^T of the layer's input and
 * the gradient at its pre-activation, so its squared norm is
 * ||a_i||^2 ||delta_i||^2, and the bias adds ||delta_i||^2 (Goodfellow,
 * "Efficient per-example gradient computations", arXiv 1510.01799). The
 * deltas come from differentiating with respect to zero tensors added to
 * each pre-activation. Otherwise, a loop with one backward pass per example
 * and label.
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import type { LayersModel } from "../core/tf.ts";
import { forward, logSoftmax, squaredNorm } from "../core/functional.ts";

type Layer = LayersModel["layers"][number];

interface Activation {
  apply(x: tf.Tensor): tf.Tensor;
}

type Step =
  | {
    kind: "dense";
    kernel: tf.Variable;
    bias: tf.Variable | undefined;
    countKernel: boolean;
    countBias: boolean;
    activation: Activation | undefined;
  }
  | { kind: "layer"; layer: Layer };

/** How per-example norms were computed. */
export type PerExampleMethod = "dense" | "loop";

/** Which path `perExampleSqNorms` takes for this model and parameters. */
export function perExampleMethod(
  model: LayersModel,
  params: tf.Variable[],
  training: boolean,
): PerExampleMethod {
  return densePlan(model, params, training) ? "dense" : "loop";
}

/**
 * ||g(x_i, labels[r][i])||^2 for every label set r and example i, as one
 * vector indexed r * n + i. `labels` holds R sets of n labels, set after
 * set. Examples are coupled only through batch-norm batch statistics, in
 * which case the loop runs every example's forward pass on the whole of x.
 */
export async function perExampleSqNorms(
  model: LayersModel,
  x: tf.Tensor,
  labels: Int32Array,
  options: { params: tf.Variable[]; training: boolean; method?: "loop" },
): Promise<Float64Array> {
  const plan = options.method === "loop"
    ? undefined
    : densePlan(model, options.params, options.training);
  if (plan) return await denseNorms(plan, x, labels, options.training);
  return await loopNorms(model, x, labels, options);
}

/** The dense fast path's plan, or undefined when it does not apply. */
function densePlan(
  model: LayersModel,
  params: tf.Variable[],
  training: boolean,
): Step[] | undefined {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return;
  const chosen = new Set(params);
  const covered = new Set<tf.Variable>();
  const steps: Step[] = [];
  let prev: Layer | undefined;
  for (const layer of model.layers) {
    if (layer.getClassName() === "InputLayer") continue;
    if (layer.inboundNodes.length !== 1) return;
    const inbound = layer.inboundNodes[0].inboundLayers;
    if (inbound.length !== 1) return;
    if (
      prev ? inbound[0] !== prev : inbound[0].getClassName() !== "InputLayer"
    ) {
      return;
    }
    prev = layer;
    const vars = layer.weights.map((w) => w.read() as tf.Variable);
    const mine = vars.filter((v) => chosen.has(v));
    if (layer.getClassName() === "Dense" && mine.length > 0) {
      const step = denseStep(layer, chosen);
      if (!step) return;
      for (const v of mine) covered.add(v);
      steps.push(step);
    } else if (mine.length > 0) {
      return;
    } else if (training && layer.getClassName() === "BatchNormalization") {
      return;
    } else {
      steps.push({ kind: "layer", layer });
    }
  }
  if (prev !== model.outputs[0].sourceLayer) return;
  return covered.size === chosen.size ? steps : undefined;
}

function denseStep(layer: Layer, chosen: Set<tf.Variable>): Step | undefined {
  const inputShape = (layer.input as { shape: unknown[] }).shape;
  if (inputShape.length !== 2) return;
  const find = (suffix: string) =>
    layer.trainableWeights.find((w) => w.originalName.endsWith(suffix))
      ?.read() as tf.Variable | undefined;
  const kernel = find("/kernel");
  const bias = find("/bias");
  if (!kernel || layer.trainableWeights.length !== (bias ? 2 : 1)) return;
  const activation = (layer as unknown as { activation?: Activation })
    .activation;
  if (activation && typeof activation.apply !== "function") return;
  return {
    kind: "dense",
    kernel,
    bias,
    countKernel: chosen.has(kernel),
    countBias: bias !== undefined && chosen.has(bias),
    activation: activation ?? undefined,
  };
}

async function denseNorms(
  plan: Step[],
  x: tf.Tensor,
  labels: Int32Array,
  training: boolean,
): Promise<Float64Array> {
  const n = x.shape[0];
  const sets = labels.length / n;
  const rows = labels.length;
  const inputNorms: tf.Tensor[] = [];
  const norms = tf.tidy(() => {
    const xs = sets === 1
      ? x
      : tf.tile(x, [sets, ...x.shape.slice(1).map(() => 1)]);
    const y = tf.tensor1d(labels, "int32");
    const dense = plan.filter((s) => s.kind === "dense");
    const probes = dense.map((s) => tf.zeros([rows, s.kernel.shape[1]!]));
    const logLikelihood = (...eps: tf.Tensor[]) => {
      let h = xs;
      let l = 0;
      for (const step of plan) {
        if (step.kind === "layer") {
          h = step.layer.apply(h, { training }) as tf.Tensor;
          continue;
        }
        if (step.countKernel) {
          inputNorms.push(tf.keep(tf.sum(tf.square(h), 1)));
        }
        let z = tf.add(tf.matMul(h, step.kernel), eps[l++]);
        if (step.bias) z = tf.add(z, step.bias);
        h = step.activation ? step.activation.apply(z) : z;
      }
      const classes = h.shape[1]!;
      return tf.sum(tf.mul(tf.oneHot(y, classes), logSoftmax(h)));
    };
    const deltas = tf.grads(logLikelihood)(probes);
    let total: tf.Tensor = tf.zeros([rows]);
    let k = 0;
    dense.forEach((step, l) => {
      if (step.kind !== "dense") return;
      const d2 = tf.sum(tf.square(deltas[l]), 1);
      let factor: tf.Tensor = tf.zeros([rows]);
      if (step.countKernel) factor = tf.add(factor, inputNorms[k++]);
      if (step.countBias) factor = tf.add(factor, 1);
      total = tf.add(total, tf.mul(factor, d2));
    });
    return total;
  });
  tf.dispose(inputNorms);
  const out = Float64Array.from(await norms.data() as Float32Array);
  norms.dispose();
  return out;
}

async function loopNorms(
  model: LayersModel,
  x: tf.Tensor,
  labels: Int32Array,
  options: { params: tf.Variable[]; training: boolean },
): Promise<Float64Array> {
  const { params, training } = options;
  const n = x.shape[0];
  const coupled = training &&
    model.layers.some((l) => l.getClassName() === "BatchNormalization");
  const out = new Float64Array(labels.length);
  for (let i = 0; i < n; i++) {
    const cache = new Map<number, number>();
    const xi = coupled ? x : tf.slice(x, i, 1);
    const row = coupled ? i : 0;
    for (let r = i; r < labels.length; r += n) {
      const label = labels[r];
      if (!cache.has(label)) {
        const sq = tf.tidy(() => {
          const { grads } = tf.variableGrads(() => {
            const logp = logSoftmax(forward(model, xi, training));
            return tf.squeeze(
              tf.slice(logp, [row, label], [1, 1]),
            ) as tf.Scalar;
          }, params);
          return squaredNorm(params.map((p) => grads[p.name]));
        });
        cache.set(label, (await sq.data())[0]);
        sq.dispose();
      }
      out[r] = cache.get(label)!;
    }
    if (!coupled) xi.dispose();
  }
  return out;
}
