/**
 * Per-example squared gradient norms ||g(x_i, y)||^2, with
 * g(x, y) = grad_theta log p(y | x), for several label sets at once.
 *
 * Two ways. For chains of dense and 2-D convolution layers (and layers
 * without chosen weights), batched: one forward and one backward pass over
 * all rows, differentiating with respect to zero tensors added to each
 * pre-activation, which yields each row's output gradients delta_i. A
 * dense kernel's per-example gradient is the outer product a_i delta_i^T
 * of its input and delta, so its squared norm is ||a_i||^2 ||delta_i||^2;
 * a convolution kernel's is A_i^T Delta_i, with A_i the input patches
 * (im2col) and Delta_i the output gradients at each position; a bias's is
 * delta summed over positions (Goodfellow 2015, arXiv 1510.01799; Rochette
 * et al. 2019, arXiv 1912.06015). Otherwise, a loop with one backward pass
 * per example and label.
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

interface ConvGeometry {
  strides: [number, number];
  padding: "same" | "valid";
}

interface WeightStep {
  kind: "dense" | "conv";
  kernel: tf.Variable;
  bias: tf.Variable | undefined;
  countKernel: boolean;
  countBias: boolean;
  activation: Activation | undefined;
  /** Output shape of one example. */
  outShape: number[];
  conv?: ConvGeometry;
}

type Step = WeightStep | { kind: "layer"; layer: Layer; outShape: number[] };

/** How per-example norms were computed. */
export type PerExampleMethod = "batched" | "loop";

/** Which path `perExampleSqNorms` takes for this model and parameters. */
export function perExampleMethod(
  model: LayersModel,
  params: tf.Variable[],
  training: boolean,
): PerExampleMethod {
  return batchedPlan(model, params, training) ? "batched" : "loop";
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
    : batchedPlan(model, options.params, options.training);
  if (plan) return await batchedNorms(plan, x, labels, options.training);
  return await loopNorms(model, x, labels, options);
}

/** The batched path's plan, or undefined when it does not apply. */
function batchedPlan(
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
    const first = inbound[0].getClassName() === "InputLayer";
    if (prev ? inbound[0] !== prev : !first) return;
    prev = layer;
    const mine = layer.weights
      .map((w) => w.read() as tf.Variable)
      .filter((v) => chosen.has(v));
    const outShape = (layer.output as { shape: number[] }).shape.slice(1);
    if (mine.length > 0) {
      const step = weightStep(layer, chosen, outShape);
      if (!step) return;
      for (const v of mine) covered.add(v);
      steps.push(step);
    } else if (training && layer.getClassName() === "BatchNormalization") {
      return;
    } else {
      steps.push({ kind: "layer", layer, outShape });
    }
  }
  if (prev !== model.outputs[0].sourceLayer) return;
  return covered.size === chosen.size ? steps : undefined;
}

/** A dense or conv layer the batched path handles, else undefined. */
function weightStep(
  layer: Layer,
  chosen: Set<tf.Variable>,
  outShape: number[],
): WeightStep | undefined {
  const kind = layer.getClassName() === "Dense"
    ? "dense"
    : layer.getClassName() === "Conv2D"
    ? "conv"
    : undefined;
  if (!kind) return;
  const inputRank = (layer.input as { shape: unknown[] }).shape.length;
  if (inputRank !== (kind === "dense" ? 2 : 4)) return;
  const find = (suffix: string) =>
    layer.trainableWeights.find((w) => w.originalName.endsWith(suffix))
      ?.read() as tf.Variable | undefined;
  const kernel = find("/kernel");
  const bias = find("/bias");
  if (!kernel || layer.trainableWeights.length !== (bias ? 2 : 1)) return;
  const activation = (layer as unknown as { activation?: Activation })
    .activation;
  if (activation && typeof activation.apply !== "function") return;
  const step: WeightStep = {
    kind,
    kernel,
    bias,
    countKernel: chosen.has(kernel),
    countBias: bias !== undefined && chosen.has(bias),
    activation: activation ?? undefined,
    outShape,
  };
  if (kind === "dense") return step;
  const config = layer.getConfig() as {
    strides: number[];
    padding: string;
    dataFormat: string;
    dilationRate: number | number[];
  };
  const dilation = [config.dilationRate].flat();
  if (
    config.dataFormat !== "channelsLast" || dilation.some((d) => d !== 1) ||
    (config.padding !== "same" && config.padding !== "valid")
  ) {
    return;
  }
  const s = [config.strides].flat();
  step.conv = {
    strides: [s[0], s[1] ?? s[0]],
    padding: config.padding,
  };
  return step;
}

/** Floats one row needs on the batched path, roughly. */
function floatsPerRow(plan: Step[]): number {
  let total = 0;
  for (const step of plan) {
    const out = step.outShape.reduce((a, b) => a + b, 0);
    total += 3 * step.outShape.reduce((a, b) => a * b, 1) + out;
    if (step.kind === "conv" && step.countKernel) {
      const [kh, kw, cin, cout] = step.kernel.shape;
      const positions = step.outShape[0] * step.outShape[1];
      total += positions * kh * kw * cin + kh * kw * cin * cout;
    }
  }
  return Math.max(total, 1);
}

/** Rows per pass, so that a pass holds about 2^24 floats (64 MB). */
const FLOAT_BUDGET = 2 ** 24;

async function batchedNorms(
  plan: Step[],
  x: tf.Tensor,
  labels: Int32Array,
  training: boolean,
): Promise<Float64Array> {
  const n = x.shape[0];
  const rows = labels.length;
  const group = Math.max(1, Math.floor(FLOAT_BUDGET / floatsPerRow(plan)));
  const out = new Float64Array(rows);
  for (let start = 0; start < rows; start += group) {
    const end = Math.min(rows, start + group);
    const which = Int32Array.from(
      { length: end - start },
      (_, k) => (start + k) % n,
    );
    const norms = tf.tidy(() => {
      const xs = which.length === n && start % n === 0
        ? x
        : tf.gather(x, which);
      const y = tf.tensor1d(labels.subarray(start, end), "int32");
      return rowNorms(plan, xs, y, training);
    });
    out.set(await norms.data() as Float32Array, start);
    norms.dispose();
  }
  return out;
}

/** ||g||^2 of each row of `xs` with its label in `y`. Call inside tidy. */
function rowNorms(
  plan: Step[],
  xs: tf.Tensor,
  y: tf.Tensor,
  training: boolean,
): tf.Tensor {
  const rows = xs.shape[0];
  const weighted = plan.filter((s): s is WeightStep => s.kind !== "layer");
  const probes = weighted.map((s) => tf.zeros([rows, ...s.outShape]));
  const inputs: tf.Tensor[] = [];
  const logLikelihood = (...eps: tf.Tensor[]) => {
    let h = xs;
    let l = 0;
    for (const step of plan) {
      if (step.kind === "layer") {
        h = step.layer.apply(h, { training }) as tf.Tensor;
        continue;
      }
      inputs.push(h === xs ? h : tf.keep(h));
      let z = step.kind === "dense" ? tf.matMul(h, step.kernel) : tf.conv2d(
        h as tf.Tensor4D,
        step.kernel as tf.Tensor4D,
        step.conv!.strides,
        step.conv!.padding,
      );
      if (step.bias) z = tf.add(z, step.bias);
      z = tf.add(z, eps[l++]);
      h = step.activation ? step.activation.apply(z) : z;
    }
    return tf.sum(tf.mul(tf.oneHot(y, h.shape[1]!), logSoftmax(h)));
  };
  const deltas = tf.grads(logLikelihood)(probes);
  let total: tf.Tensor = tf.zeros([rows]);
  weighted.forEach((step, l) => {
    const a = inputs[l];
    const d = deltas[l];
    if (step.kind === "dense") {
      const d2 = tf.sum(tf.square(d), 1);
      if (step.countKernel) {
        total = tf.add(total, tf.mul(tf.sum(tf.square(a), 1), d2));
      }
      if (step.countBias) total = tf.add(total, d2);
      return;
    }
    const [, ho, wo, cout] = d.shape;
    const flatD = tf.reshape(d, [rows, ho * wo, cout]);
    if (step.countKernel) {
      const patches = im2col(a as tf.Tensor4D, step, ho, wo);
      const g = tf.matMul(patches, flatD, true, false);
      total = tf.add(total, tf.sum(tf.square(g), [1, 2]));
    }
    if (step.countBias) {
      total = tf.add(total, tf.sum(tf.square(tf.sum(flatD, 1)), 1));
    }
  });
  tf.dispose(inputs.filter((t) => t !== xs));
  return total;
}

/**
 * The input patches of a convolution, [rows, ho * wo, kh * kw * cin], in
 * the order of the kernel's flattened leading axes.
 */
function im2col(
  a: tf.Tensor4D,
  step: WeightStep,
  ho: number,
  wo: number,
): tf.Tensor {
  const [kh, kw, cin] = step.kernel.shape as number[];
  const [sh, sw] = step.conv!.strides;
  const [rows, hi, wi] = a.shape;
  let padded: tf.Tensor4D = a;
  if (step.conv!.padding === "same") {
    // TensorFlow's SAME padding: the extra row or column goes last.
    const ph = Math.max((ho - 1) * sh + kh - hi, 0);
    const pw = Math.max((wo - 1) * sw + kw - wi, 0);
    const top = Math.floor(ph / 2), left = Math.floor(pw / 2);
    padded = tf.pad(a, [[0, 0], [top, ph - top], [left, pw - left], [0, 0]]);
  }
  const slices: tf.Tensor[] = [];
  for (let dy = 0; dy < kh; dy++) {
    for (let dx = 0; dx < kw; dx++) {
      slices.push(tf.stridedSlice(
        padded,
        [0, dy, dx, 0],
        [rows, dy + (ho - 1) * sh + 1, dx + (wo - 1) * sw + 1, cin],
        [1, sh, sw, 1],
      ));
    }
  }
  return tf.reshape(tf.concat(slices, 3), [rows, ho * wo, kh * kw * cin]);
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
