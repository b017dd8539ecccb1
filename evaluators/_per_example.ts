/**
 * Per-example squared gradient norms ||g(x_i, y)||^2, with
 * g(x, y) = grad_theta log p(y | x), for several label sets at once.
 *
 * Batched when examples are independent (no batch norm on batch
 * statistics), the model has one input, one output and a DAG of layers,
 * and every chosen weight is in a dense, 2-D convolution or batch-norm
 * layer called once: one forward and one backward pass over all rows,
 * layer by layer in topological order, differentiating with respect to
 * zero tensors added to each weighted layer's pre-activation. That gives
 * each row's output gradients Delta_i, which with the layer's input A_i
 * make its per-example gradients. Kernel: A_i^T Delta_i, with the input
 * patches (im2col) as A_i for a convolution (one backend kernel for all
 * rows where there is one, core/kernels/conv_row_norms.ts; else a product
 * per filter tap); for a dense layer at a single position, its squared norm
 * is ||a_i||^2 ||delta_i||^2. Bias and beta:
 * Delta_i summed over positions. Gamma: xhat_i * Delta_i summed over
 * positions, xhat = (x - mean) / sqrt(var + epsilon) from the running
 * statistics. Other layers run through their own apply. A pass holds
 * several label sets of the same examples; as the probes are zero, the
 * copies agree at every layer, so the dense, conv and batch-norm maps run
 * on one copy (their gradients on all rows). Otherwise, a loop with one
 * backward pass per example and label.
 * Goodfellow 2015, arXiv 1510.01799; Rochette et al. 2019, arXiv 1912.06015.
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import type { LayersModel } from "../core/tf.ts";
import { forward, logSoftmax, squaredNorm } from "../core/functional.ts";
import { convFilterRowNorms } from "../core/kernels/conv_row_norms.ts";

type Layer = LayersModel["layers"][number];
type SymbolicTensor = LayersModel["inputs"][number];

interface Activation {
  apply(x: tf.Tensor): tf.Tensor;
}

/** A dense or 2-D convolution layer: kernel, optional bias, activation. */
interface KernelOp {
  kind: "dense" | "conv";
  kernel: tf.Variable;
  bias: tf.Variable | undefined;
  countKernel: boolean;
  countBias: boolean;
  activation: Activation | undefined;
  strides: [number, number];
  padding: "same" | "valid";
}

/** A batch-norm layer in inference mode: gamma xhat + beta per channel. */
interface NormOp {
  kind: "norm";
  gamma: tf.Variable | undefined;
  beta: tf.Variable | undefined;
  mean: tf.Tensor;
  variance: tf.Tensor;
  epsilon: number;
  /** Channel axis, counted with the batch axis (1 or more). */
  axis: number;
  /** Rank of its input, batch axis included. */
  rank: number;
  countGamma: boolean;
  countBeta: boolean;
}

type WeightOp = KernelOp | NormOp;

/**
 * One layer call of the graph. Dense, conv and batch-norm layers run as
 * their op, which takes the probe when some of their weights are chosen;
 * other layers run through their own apply.
 */
interface GraphNode {
  layer: Layer;
  inputs: number[];
  output: number;
  /** Output shape of one example. */
  outShape: number[];
  op?: WeightOp;
  probed: boolean;
}

interface Plan {
  input: number;
  nodes: GraphNode[];
}

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
  options: PerExampleOptions,
): Promise<Float64Array> {
  const plan = options.method === "loop"
    ? undefined
    : batchedPlan(model, options.params, options.training);
  if (!plan) return await loopNorms(model, x, labels, options);
  const budget = options.floatBudget ?? FLOAT_BUDGET;
  return await batchedNorms(plan, x, labels, { ...options, budget });
}

/** Options for {@linkcode perExampleSqNorms}. */
export interface PerExampleOptions {
  /** The chosen variables. */
  params: tf.Variable[];
  /** Batch statistics in batch norm, dropout on. */
  training: boolean;
  /** "loop" forces the loop. */
  method?: "loop";
  /** Floats a batched pass may hold, roughly. Default 2^25 (128 MB). */
  floatBudget?: number;
}

/** The batched path's plan, or undefined when it does not apply. */
function batchedPlan(
  model: LayersModel,
  params: tf.Variable[],
  training: boolean,
): Plan | undefined {
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return;
  if (training && hasBatchNorm(model)) return;
  const order = topologicalOrder(model.inputs[0], model.outputs[0]);
  if (!order) return;
  const chosen = new Set(params);
  const covered = new Set<tf.Variable>();
  const weighted = new Set<Layer>();
  const nodes: GraphNode[] = [];
  for (const t of order) {
    const outShape = t.shape.slice(1);
    if (outShape.some((d) => d === null)) return;
    const layer = t.sourceLayer;
    // Masks are not passed between layers here.
    if (makesMask(layer)) return;
    const mine = variablesOf(layer).filter((v) => chosen.has(v));
    const op = t.inputs.length === 1
      ? weightOp(layer, t.inputs[0].shape.length, chosen)
      : undefined;
    const node: GraphNode = {
      layer,
      inputs: t.inputs.map((s) => s.id),
      output: t.id,
      outShape: outShape as number[],
      op,
      probed: mine.length > 0,
    };
    if (mine.length > 0) {
      // A layer called twice sums two terms per example: not separable.
      if (weighted.has(layer) || !op || !opCovers(op, mine)) return;
      weighted.add(layer);
      for (const v of mine) {
        if (covered.has(v)) return;
        covered.add(v);
      }
    }
    nodes.push(node);
  }
  if (covered.size !== chosen.size) return;
  return { input: model.inputs[0].id, nodes };
}

/**
 * The symbolic tensors from `input` to `output`, each after the ones it
 * reads (depth first from the output, as tfjs-layers' executor sorts
 * them); undefined when the graph reads another input or a layer call has
 * several outputs.
 */
function topologicalOrder(
  input: SymbolicTensor,
  output: SymbolicTensor,
): SymbolicTensor[] | undefined {
  const order: SymbolicTensor[] = [];
  const done = new Set<number>([input.id]);
  const open = new Set<number>();
  const visit = (t: SymbolicTensor): boolean => {
    if (done.has(t.id)) return true;
    if (open.has(t.id) || t.inputs.length === 0) return false;
    const node = t.sourceLayer.inboundNodes[t.nodeIndex];
    if (node?.outputTensors.length !== 1) return false;
    open.add(t.id);
    if (!t.inputs.every(visit)) return false;
    open.delete(t.id);
    done.add(t.id);
    order.push(t);
    return true;
  };
  return visit(output) ? order : undefined;
}

/** Whether `layer` starts a mask (Masking, Embedding with maskZero). */
function makesMask(layer: Layer): boolean {
  const name = layer.getClassName();
  if (name === "Masking") return true;
  return name === "Embedding" &&
    (layer.getConfig() as { maskZero?: boolean }).maskZero === true;
}

/** Whether a batch-norm layer runs anywhere in `layer`, nested models too. */
function hasBatchNorm(layer: Layer | LayersModel): boolean {
  if (layer.getClassName() === "BatchNormalization") return true;
  const inner = (layer as { layers?: Layer[] }).layers;
  return inner?.some(hasBatchNorm) ?? false;
}

function variablesOf(layer: Layer): tf.Variable[] {
  return layer.weights.map((w) => w.read() as tf.Variable);
}

/** The layer's weight named `suffix` (after its scope), if any. */
function weightNamed(layer: Layer, suffix: string): tf.Variable | undefined {
  return layer.weights.find((w) => w.originalName.endsWith(`/${suffix}`))
    ?.read() as tf.Variable | undefined;
}

/** Whether the op accounts for every chosen weight of its layer. */
function opCovers(op: WeightOp, mine: tf.Variable[]): boolean {
  const known = op.kind === "norm"
    ? [op.countGamma && op.gamma, op.countBeta && op.beta]
    : [op.countKernel && op.kernel, op.countBias && op.bias];
  return mine.every((v) => known.includes(v));
}

/** The op of a layer the batched path handles, else undefined. */
function weightOp(
  layer: Layer,
  inputRank: number,
  chosen: Set<tf.Variable>,
): WeightOp | undefined {
  switch (layer.getClassName()) {
    case "Dense":
      return inputRank >= 2 ? kernelOp(layer, "dense", chosen) : undefined;
    case "Conv2D":
      return inputRank === 4 ? kernelOp(layer, "conv", chosen) : undefined;
    case "BatchNormalization":
      return normOp(layer, inputRank, chosen);
    default:
      return undefined;
  }
}

function kernelOp(
  layer: Layer,
  kind: "dense" | "conv",
  chosen: Set<tf.Variable>,
): KernelOp | undefined {
  const kernel = weightNamed(layer, "kernel");
  const bias = weightNamed(layer, "bias");
  if (!kernel || layer.weights.length !== (bias ? 2 : 1)) return;
  const activation = (layer as unknown as { activation?: Activation })
    .activation;
  if (activation && typeof activation.apply !== "function") return;
  const op: KernelOp = {
    kind,
    kernel,
    bias,
    countKernel: chosen.has(kernel),
    countBias: bias !== undefined && chosen.has(bias),
    activation: activation ?? undefined,
    strides: [1, 1],
    padding: "valid",
  };
  if (kind === "dense") return op;
  const config = layer.getConfig() as {
    strides: number | number[];
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
  op.strides = [s[0], s[1] ?? s[0]];
  op.padding = config.padding;
  return op;
}

function normOp(
  layer: Layer,
  inputRank: number,
  chosen: Set<tf.Variable>,
): NormOp | undefined {
  const config = layer.getConfig() as { axis: number; epsilon: number };
  const axis = config.axis < 0 ? config.axis + inputRank : config.axis;
  const mean = weightNamed(layer, "moving_mean");
  const variance = weightNamed(layer, "moving_variance");
  if (!mean || !variance || !Number.isInteger(axis)) return;
  if (axis < 1 || axis >= inputRank) return;
  const gamma = weightNamed(layer, "gamma");
  const beta = weightNamed(layer, "beta");
  return {
    kind: "norm",
    gamma,
    beta,
    mean,
    variance,
    epsilon: config.epsilon,
    axis,
    rank: inputRank,
    countGamma: gamma !== undefined && chosen.has(gamma),
    countBeta: beta !== undefined && chosen.has(beta),
  };
}

/**
 * Floats one row needs on the batched path, roughly: a few copies of every
 * layer's output (its value, what the gradient saves, the gradient), and
 * the patches of the largest convolution kernel, one layer at a time.
 */
function floatsPerRow(plan: Plan): number {
  let total = 0;
  let patches = 0;
  for (const { outShape, op } of plan.nodes) {
    total += 3 * outShape.reduce((a, b) => a * b, 1);
    if (op?.kind === "conv" && op.countKernel) {
      const [kh, kw, cin, cout] = op.kernel.shape;
      const positions = outShape[0] * outShape[1];
      patches = Math.max(
        patches,
        positions * kh * kw * cin + kh * kw * cin * cout,
      );
    }
  }
  return Math.max(total + patches, 1);
}

/**
 * Floats a pass holds, about, unless told: 2^25 (128 MB). Fewer, larger
 * passes amortize the per-op cost: on the ResNet-8 (about 900,000 floats a
 * row) 2^24 allows one example's ten classes a pass, and exact Tr(F) took
 * 21 ms per example there against 16 ms at 2^25. With the native pack's
 * per-example kernel, 2^26 gains about a tenth more on the ResNet-8 and
 * the SimpleCNN, for twice the memory, which the wasm heap keeps.
 */
const FLOAT_BUDGET = 2 ** 25;

async function batchedNorms(
  plan: Plan,
  x: tf.Tensor,
  labels: Int32Array,
  options: { training: boolean; budget: number },
): Promise<Float64Array> {
  const n = x.shape[0];
  const sets = labels.length / n;
  if (!Number.isInteger(sets)) {
    throw new RangeError(
      `Cannot compute per-example norms: ${labels.length} labels are not ` +
        `whole sets for ${n} examples; give n labels per set`,
    );
  }
  const group = Math.max(1, Math.floor(options.budget / floatsPerRow(plan)));
  // Each pass: `setsPerPass` label sets of the same `examples` examples,
  // set after set, so that its rows repeat one block of examples.
  const setsPerPass = Math.min(sets, group);
  const examples = Math.max(1, Math.min(n, Math.floor(group / setsPerPass)));
  const out = new Float64Array(labels.length);
  const pass = { training: options.training, constants: normConstants(plan) };
  try {
    for (let set = 0; set < sets; set += setsPerPass) {
      const k = Math.min(setsPerPass, sets - set);
      for (let first = 0; first < n; first += examples) {
        const m = Math.min(examples, n - first);
        const at = (j: number) => (set + j) * n + first;
        const y = new Int32Array(k * m);
        for (let j = 0; j < k; j++) {
          y.set(labels.subarray(at(j), at(j) + m), j * m);
        }
        const norms = tf.tidy(() => {
          const block = m === n ? x : tf.slice(x, first, m);
          const xs = k === 1 ? block : repeatRows(block, k);
          const ys = tf.tensor1d(y, "int32");
          return rowNorms(plan, xs, ys, { ...pass, copies: k });
        });
        const values = await norms.data() as Float32Array;
        norms.dispose();
        for (let j = 0; j < k; j++) {
          out.set(values.subarray(j * m, (j + 1) * m), at(j));
        }
      }
    }
  } finally {
    for (const held of pass.constants.values()) {
      tf.dispose(Object.values(held));
    }
  }
  return out;
}

/** Batch norm's running statistics as it uses them, per channel. */
interface NormTensors {
  mean: tf.Tensor;
  /** 1 / sqrt(variance + epsilon). */
  inv: tf.Tensor;
  /** gamma * inv, the factor of x. */
  scale: tf.Tensor;
  /** beta - mean * scale. */
  shift: tf.Tensor;
}

/** Each batch norm's tensors, shaped to broadcast along its axis. */
type Constants = Map<NormOp, NormTensors>;

function normConstants(plan: Plan): Constants {
  const out: Constants = new Map();
  for (const { op } of plan.nodes) {
    if (op?.kind !== "norm") continue;
    out.set(
      op,
      tf.tidy(() => {
        const shape = Array.from(
          { length: op.rank },
          (_, k) => k === op.axis ? op.mean.shape[0] : 1,
        );
        const inv = tf.rsqrt(tf.add(op.variance, op.epsilon));
        const scale = op.gamma ? tf.mul(op.gamma, inv) : inv;
        let shift = tf.neg(tf.mul(op.mean, scale));
        if (op.beta) shift = tf.add(shift, op.beta);
        const [m, i, sc, sh] = [op.mean, inv, scale, shift]
          .map((t) => tf.reshape(t, shape));
        return { mean: m, inv: i, scale: sc, shift: sh };
      }),
    );
  }
  return out;
}

/**
 * ||g||^2 of each row of `xs` with its label in `y`, where `xs` is
 * `copies` copies of one block of examples. Call inside tidy.
 */
function rowNorms(
  plan: Plan,
  xs: tf.Tensor,
  y: tf.Tensor,
  options: { training: boolean; copies: number; constants: Constants },
): tf.Tensor {
  const { training, constants } = options;
  // The probes are zero, so without dropout every copy holds the same
  // values at every layer, and the weighted maps run on one copy.
  const copies = training ? 1 : options.copies;
  const rows = xs.shape[0];
  const weighted = plan.nodes.filter((node) => node.probed);
  // Filled on the backend: tf.zeros builds them in host memory and copies.
  const probes = weighted.map((node) => tf.fill([rows, ...node.outShape], 0));
  // Each probed layer's input, kept past the gradient's own tidy.
  const inputs: tf.Tensor[] = [];
  const logLikelihood = (...probes: tf.Tensor[]) => {
    const values = new Map<number, tf.Tensor>([[plan.input, xs]]);
    let h = xs;
    for (const node of plan.nodes) {
      const args = node.inputs.map((id) => values.get(id)!);
      if (node.probed) {
        inputs.push(args[0] === xs ? xs : tf.keep(args[0]));
        const eps = probes[inputs.length - 1];
        h = opApply(node.op!, args[0], { copies, constants, eps });
      } else if (node.op) {
        h = opApply(node.op, args[0], { copies, constants });
      } else {
        const arg = args.length === 1 ? args[0] : args;
        h = node.layer.apply(arg, { training }) as tf.Tensor;
      }
      values.set(node.output, h);
    }
    return tf.sum(tf.mul(tf.oneHot(y, h.shape[1]!), logSoftmax(h)));
  };
  try {
    const deltas = tf.grads(logLikelihood)(probes);
    // One layer's patches at a time.
    const terms = weighted.map((node, l) =>
      tf.tidy(() => opSqNorms(node.op!, inputs[l], deltas[l], constants))
    );
    return terms.length === 1 ? terms[0] : tf.addN(terms);
  } finally {
    tf.dispose(inputs.filter((t) => t !== xs));
  }
}

/**
 * A dense, conv or batch-norm layer's output, with the probe, if any,
 * added before the activation; `a` holds `copies` equal blocks of rows.
 */
function opApply(
  op: WeightOp,
  a: tf.Tensor,
  options: { copies: number; constants: Constants; eps?: tf.Tensor },
): tf.Tensor {
  const { copies, constants, eps } = options;
  let z = copies === 1
    ? affine(op, a, constants)
    : onFirstCopy(op, a, copies, constants);
  if (eps) z = tf.add(z, eps);
  return op.kind !== "norm" && op.activation ? op.activation.apply(z) : z;
}

/**
 * The op's affine map of `a`, computed on the first of its `copies` equal
 * blocks of rows and repeated; its gradient, which does not depend on a,
 * on every row.
 */
function onFirstCopy(
  op: WeightOp,
  a: tf.Tensor,
  copies: number,
  constants: Constants,
): tf.Tensor {
  const repeated = tf.customGrad((input) => {
    const rows = (input as tf.Tensor).shape[0] / copies;
    const once = affine(op, tf.slice(input as tf.Tensor, 0, rows), constants);
    return {
      value: repeatRows(once, copies),
      gradFunc: (dy) => affineGradient(op, dy as tf.Tensor, a.shape, constants),
    };
  });
  return repeated(a);
}

/** `copies` copies of `t`, one after another along the first axis. */
function repeatRows(t: tf.Tensor, copies: number): tf.Tensor {
  // A tile, which the wasm kernels double in place, where concat copies
  // block by block.
  return tf.tile(t, [copies, ...Array(t.rank - 1).fill(1)]);
}

/**
 * The op before its probe and activation, affine in `a`: the kernel's
 * product plus the bias, or gamma xhat + beta as a * scale + shift (whose
 * gradient is a broadcast product, where tfjs's batch norm tiles, and
 * which needs no gamma or beta, where tfjs's fails without).
 */
function affine(op: WeightOp, a: tf.Tensor, constants: Constants): tf.Tensor {
  if (op.kind === "norm") {
    const { scale, shift } = constants.get(op)!;
    return tf.add(tf.mul(a, scale), shift);
  }
  let z: tf.Tensor;
  if (op.kind === "conv") {
    const kernel = op.kernel as tf.Tensor4D;
    z = tf.conv2d(a as tf.Tensor4D, kernel, op.strides, op.padding);
  } else {
    const [inputs, units] = op.kernel.shape as number[];
    const flat = tf.matMul(tf.reshape(a, [-1, inputs]), op.kernel);
    z = tf.reshape(flat, [...a.shape.slice(0, -1), units]);
  }
  return op.bias ? tf.add(z, op.bias) : z;
}

/** The gradient of `affine` with respect to its input of `shape`. */
function affineGradient(
  op: WeightOp,
  dy: tf.Tensor,
  shape: number[],
  constants: Constants,
): tf.Tensor {
  if (op.kind === "norm") return tf.mul(dy, constants.get(op)!.scale);
  if (op.kind === "conv") {
    return tf.conv2dTranspose(
      dy as tf.Tensor4D,
      op.kernel as tf.Tensor4D,
      shape as [number, number, number, number],
      op.strides,
      op.padding,
    );
  }
  const units = op.kernel.shape[1]!;
  const flat = tf.matMul(tf.reshape(dy, [-1, units]), op.kernel, false, true);
  return tf.reshape(flat, shape);
}

/** The chosen weights' ||g_i||^2 of one layer, per row, from a and delta. */
function opSqNorms(
  op: WeightOp,
  a: tf.Tensor,
  d: tf.Tensor,
  constants: Constants,
): tf.Tensor {
  const terms: tf.Tensor[] = [];
  if (op.kind === "norm") {
    const { mean, inv } = constants.get(op)!;
    if (op.countGamma) {
      // sum_p xhat_p delta_p, with xhat = (a - mean) * inv per channel.
      const centred = sumOverPositions(tf.mul(tf.sub(a, mean), d), op.axis);
      terms.push(rowSq(tf.mul(centred, tf.reshape(inv, [1, -1]))));
    }
    if (op.countBeta) terms.push(rowSq(sumOverPositions(d, op.axis)));
  } else {
    const rows = d.shape[0];
    const cout = d.shape[d.rank - 1];
    const positions = d.size / (rows * cout);
    const flatD = tf.reshape(d, [rows, positions, cout]);
    if (op.countKernel && op.kind === "dense" && positions === 1) {
      terms.push(tf.mul(rowSq(a), rowSq(flatD)));
    } else if (op.countKernel) {
      // The backend's per-example kernel if it has one, else per tap.
      const [kh, kw] = op.kernel.shape;
      const direct = op.kind === "conv"
        ? convFilterRowNorms(a, d, {
          filterSize: [kh, kw],
          strides: op.strides,
          padding: op.padding,
        })
        : undefined;
      if (direct) terms.push(direct);
      const taps = direct
        ? []
        : op.kind === "conv"
        ? convTaps(a as tf.Tensor4D, op, d.shape[1]!, d.shape[2]!)
        : [tf.reshape(a, [rows, positions, -1])];
      for (const tap of taps) {
        terms.push(rowSq(tf.matMul(tap, flatD, true, false)));
      }
    }
    if (op.countBias) terms.push(rowSq(sumOverPositions(d, d.rank - 1)));
  }
  return terms.length === 1 ? terms[0] : tf.addN(terms);
}

/** The sum of squares of each row of `t` (first axis). */
function rowSq(t: tf.Tensor): tf.Tensor {
  return tf.sum(tf.square(tf.reshape(t, [t.shape[0], -1])), 1);
}

/**
 * `t` summed over every axis but the batch axis and `axis`: [rows, C]. On
 * wasm, fisherlab's Sum kernel reduces the positions between the two in
 * place (kernels/wasm.ts).
 */
function sumOverPositions(t: tf.Tensor, axis: number): tf.Tensor {
  const rows = t.shape[0];
  const channels = t.shape[axis];
  if (t.size === rows * channels) return tf.reshape(t, [rows, channels]);
  const axes = Array.from({ length: t.rank - 1 }, (_, k) => k + 1);
  return tf.sum(t, axes.filter((k) => k !== axis));
}

/**
 * The inputs each tap of a convolution kernel reads, one [rows, ho * wo,
 * cin] tensor per tap (dy, dx), in the order of the kernel's leading axes.
 * The padded input is cut into blocks of the stride, so that every tap is
 * a plain slice.
 */
function convTaps(
  a: tf.Tensor4D,
  op: KernelOp,
  ho: number,
  wo: number,
): tf.Tensor[] {
  const [kh, kw, cin] = op.kernel.shape as number[];
  const [sh, sw] = op.strides;
  const [rows, hi, wi] = a.shape;
  let top = 0, left = 0;
  if (op.padding === "same") {
    // TensorFlow's SAME padding: the extra row or column goes last.
    top = Math.floor(Math.max((ho - 1) * sh + kh - hi, 0) / 2);
    left = Math.floor(Math.max((wo - 1) * sw + kw - wi, 0) / 2);
  }
  const hs = ho + Math.floor((kh - 1) / sh);
  const ws = wo + Math.floor((kw - 1) / sw);
  const bottom = hs * sh - top - hi;
  const right = ws * sw - left - wi;
  let padded: tf.Tensor = a;
  if (bottom < 0 || right < 0) {
    const size = [rows, hi + Math.min(bottom, 0), wi + Math.min(right, 0), cin];
    padded = tf.slice(padded, [0, 0, 0, 0], size);
  }
  if (top > 0 || left > 0 || bottom > 0 || right > 0) {
    padded = tf.pad(padded, [
      [0, 0],
      [top, Math.max(bottom, 0)],
      [left, Math.max(right, 0)],
      [0, 0],
    ]);
  }
  const blocks = tf.reshape(padded, [rows, hs, sh, ws, sw * cin]);
  const taps: tf.Tensor[] = [];
  for (let dy = 0; dy < kh; dy++) {
    for (let dx = 0; dx < kw; dx++) {
      const begin = [
        0,
        Math.floor(dy / sh),
        dy % sh,
        Math.floor(dx / sw),
        (dx % sw) * cin,
      ];
      const tap = tf.slice(blocks, begin, [rows, ho, 1, wo, cin]);
      taps.push(tf.reshape(tap, [rows, ho * wo, cin]));
    }
  }
  return taps;
}

async function loopNorms(
  model: LayersModel,
  x: tf.Tensor,
  labels: Int32Array,
  options: { params: tf.Variable[]; training: boolean },
): Promise<Float64Array> {
  const { params, training } = options;
  const n = x.shape[0];
  const coupled = training && hasBatchNorm(model);
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
