/**
 * Hessian-vector products of the mean cross-entropy of a chain of dense
 * layers (linear or ReLU, with flattening), by Pearlmutter's R-operator:
 * one forward pass carrying the directional derivative R{.} = d/dr (.)
 * (theta + r v) at r = 0 beside each activation, then one backward pass
 * carrying R{d} beside each back-propagated error d. The same H v as
 * double backprop in exact arithmetic, but with no recorded tape and three
 * large matrix products where double backprop takes four (the input x of
 * the first layer needs no R-term: R{x} = 0). Models of other layers use
 * double backprop.
 *
 * With z_l = h_{l-1} W_l + b_l, h_l = act(z_l), m_l = act'(z_l) (0 or 1),
 * p = softmax(z_L), Y the one-hot labels and B the batch:
 *
 *   R z_l = R h_{l-1} W_l + h_{l-1} V_l + v_l,   R h_l = m_l R z_l
 *   d_L = (p - Y) / B,   R d_L = (p R z_L - p (p . R z_L)) / B (by rows)
 *   (H v)_{W_l} = R h_{l-1}^T d_l + h_{l-1}^T R d_l,  (H v)_{b_l} = sum R d_l
 *   d_{l-1} = m_{l-1} d_l W_l^T,  R d_{l-1} = m_{l-1} (R d_l W_l^T + d_l V_l^T)
 *
 * (products with m elementwise; a ReLU's second derivative is zero almost
 * everywhere, as double backprop through tfjs's ReLU gradient also has
 * it). Source: Pearlmutter 1994, "Fast exact multiplication by the
 * Hessian", Neural Computation 6(1), sec. 3-4.
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import type { LayersModel } from "../core/tf.ts";
import { reluBackward } from "../core/kernels/dense.ts";

/** One dense layer of a chain. */
export interface DenseStep {
  kernel: tf.Variable;
  bias: tf.Variable | null;
  relu: boolean;
}

/** The parts of tfjs-layers' layers read here. */
interface LayerLike {
  getClassName(): string;
  activation?: { getClassName(): string } | null;
  kernel?: { read(): tf.Tensor };
  bias?: { read(): tf.Tensor } | null;
  dataFormat?: string;
  activityRegularizer?: unknown;
}

/**
 * The model's dense layers in order when it is a Sequential of Dense
 * (linear or ReLU) and channels-last Flatten layers only (and its input
 * layer), ending in a dense layer, with no weight used twice; else
 * undefined.
 */
export function denseChain(model: LayersModel): DenseStep[] | undefined {
  if (model.getClassName() !== "Sequential") return undefined;
  const steps: DenseStep[] = [];
  let last = "";
  for (const layer of model.layers as unknown as LayerLike[]) {
    last = layer.getClassName();
    if (last === "InputLayer") continue;
    if (last === "Flatten" && layer.dataFormat !== "channelsFirst") continue;
    if (last !== "Dense" || layer.activityRegularizer != null) return undefined;
    const activation = layer.activation?.getClassName() ?? "linear";
    if (activation !== "linear" && activation !== "relu") return undefined;
    steps.push({
      kernel: layer.kernel!.read() as tf.Variable,
      bias: (layer.bias?.read() as tf.Variable | undefined) ?? null,
      relu: activation === "relu",
    });
  }
  const weights = steps.flatMap((s) =>
    s.bias ? [s.kernel, s.bias] : [s.kernel]
  );
  const distinct = new Set(weights).size === weights.length;
  return steps.length > 0 && last === "Dense" && distinct ? steps : undefined;
}

/** The sum of the tensors that are there; null when none is. */
function sum(terms: (tf.Tensor | null)[]): tf.Tensor | null {
  const present = terms.filter((t): t is tf.Tensor => t !== null);
  return present.length === 0 ? null : present.reduce((a, b) => tf.add(a, b));
}

/** The forward pass: h_0 = x flattened, h_{l+1} = act(h_l W + b). */
interface Forward {
  /** h_0 .. h_L; h_{L+1} is the last layer's pre-activation. */
  hs: tf.Tensor[];
  /** The logits: h_{L+1}, after the last layer's ReLU if it has one. */
  top: tf.Tensor;
}

function forwardPass(chain: DenseStep[], x: tf.Tensor): Forward {
  const last = chain.length - 1;
  const hs: tf.Tensor[] = [tf.reshape(x, [x.shape[0], -1])];
  for (const [l, s] of chain.entries()) {
    hs.push(tf.fused.matMul({
      a: hs[l],
      b: s.kernel,
      bias: s.bias ?? undefined,
      activation: s.relu && l < last ? "relu" : "linear",
    }));
  }
  const top = chain[last].relu ? tf.relu(hs[last + 1]) : hs[last + 1];
  return { hs, top };
}

/**
 * The softmax p and the errors d_l (the mean cross-entropy's gradient at
 * each layer's pre-activation) from the top down to layer `lowest`.
 */
function backwardErrors(
  chain: DenseStep[],
  { hs, top }: Forward,
  labels: tf.Tensor,
  lowest: number,
): { p: tf.Tensor; ds: tf.Tensor[] } {
  const last = chain.length - 1;
  const p = tf.softmax(top);
  const classes = top.shape[1]!;
  const onehot = tf.oneHot(tf.cast(labels, "int32") as tf.Tensor1D, classes);
  const ds: tf.Tensor[] = new Array(chain.length);
  let d: tf.Tensor = tf.div(tf.sub(p, onehot), top.shape[0]);
  ds[last] = chain[last].relu ? reluBackward(d, top) : d;
  for (let l = last; l > lowest; l--) {
    d = tf.matMul(ds[l], chain[l].kernel, false, true);
    ds[l - 1] = chain[l - 1].relu ? reluBackward(d, hs[l]) : d;
  }
  return { p, ds };
}

/**
 * H v by the R-operator from a forward pass and its errors (ds[l] for
 * every l >= 1), into `out` at the positions `index` gives the weights;
 * `dir` gives each weight's direction (null: zero).
 */
function rPass(
  chain: DenseStep[],
  { hs, top }: Forward,
  p: tf.Tensor,
  ds: tf.Tensor[],
  dir: (w: tf.Variable | null) => tf.Tensor | null,
  index: Map<tf.Variable, number>,
  out: tf.Tensor[],
): void {
  const last = chain.length - 1;
  const rows = top.shape[0];
  // R h_l (null where zero; R h_0 = R x = 0), and R of the logits.
  const rhs: (tf.Tensor | null)[] = [null];
  let rz: tf.Tensor | null = null;
  for (const [l, s] of chain.entries()) {
    const vk = dir(s.kernel);
    rz = sum([
      rhs[l] ? tf.matMul(rhs[l]!, s.kernel) : null,
      vk ? tf.matMul(hs[l], vk) : null,
    ]);
    const vb = dir(s.bias);
    if (vb) rz = rz ? tf.add(rz, vb) : tf.broadcastTo(vb, hs[l + 1].shape);
    if (l < last) rhs.push(rz && s.relu ? reluBackward(rz, hs[l + 1]) : rz);
  }
  if (chain[last].relu && rz) rz = reluBackward(rz, top);
  let rd: tf.Tensor | null = null;
  if (rz) {
    const prz = tf.mul(p, rz);
    rd = tf.div(tf.sub(prz, tf.mul(p, tf.sum(prz, 1, true))), rows);
    if (chain[last].relu) rd = reluBackward(rd, top);
  }
  for (let l = last; l >= 0; l--) {
    const s = chain[l];
    const ki = index.get(s.kernel);
    if (ki !== undefined) {
      out[ki] = sum([
        rhs[l] ? tf.matMul(rhs[l]!, ds[l], true, false) : null,
        rd ? tf.matMul(hs[l], rd, true, false) : null,
      ]) ?? tf.zerosLike(s.kernel);
    }
    const bi = s.bias ? index.get(s.bias) : undefined;
    if (bi !== undefined) out[bi] = rd ? tf.sum(rd, 0) : tf.zerosLike(s.bias!);
    if (l === 0) break;
    const vk = dir(s.kernel);
    const rdh = sum([
      rd ? tf.matMul(rd, s.kernel, false, true) : null,
      vk ? tf.matMul(ds[l], vk, false, true) : null,
    ]);
    rd = rdh && chain[l - 1].relu ? reluBackward(rdh, hs[l]) : rdh;
  }
}

/** Whether every one of `params` is a weight of `chain`. */
export function ownsAll(chain: DenseStep[], params: tf.Variable[]): boolean {
  const owned = new Set(chain.flatMap((s) => [s.kernel, s.bias]));
  return params.every((p) => owned.has(p));
}

/** Each weight's position in `params`, or undefined if one is not the chain's. */
function positions(
  chain: DenseStep[],
  params: tf.Variable[],
): Map<tf.Variable, number> | undefined {
  if (!ownsAll(chain, params)) return undefined;
  return new Map(params.map((p, i) => [p, i]));
}

/**
 * H v for the mean cross-entropy of `chain` on (x, labels), for the
 * weights `params` with directions `v` (tensors shaped like them, in their
 * order; the directions of the chain's other weights are zero). Returns
 * tensors in the order of `params`, or undefined when one of `params` is
 * not a weight of the chain.
 */
export function denseHessianVectorProduct(
  chain: DenseStep[],
  x: tf.Tensor,
  labels: tf.Tensor,
  params: tf.Variable[],
  v: tf.Tensor[],
): tf.Tensor[] | undefined {
  const index = positions(chain, params);
  if (!index) return undefined;
  const dir = (w: tf.Variable | null) =>
    w !== null && index.has(w) ? v[index.get(w)!] : null;
  return tf.tidy(() => {
    const fwd = forwardPass(chain, x);
    // The first layer's error is needed only with R h_0, never.
    const { p, ds } = backwardErrors(chain, fwd, labels, 1);
    const out: tf.Tensor[] = new Array(params.length);
    rPass(chain, fwd, p, ds, dir, index, out);
    return out;
  });
}

/** What {@linkcode denseGradientAndHessian} computes. */
export interface GradientAndHessian {
  /** The labels `pick` chose from the logits. */
  labels: Int32Array;
  /** g: the gradient for each of `chosen`. */
  grads: tf.Tensor[];
  /** H g for each of `all`, g zero outside `chosen`. */
  hg: tf.Tensor[];
}

/**
 * For the mean cross-entropy of `chain` on x at labels that `pick` draws
 * from the logits: its gradient g with respect to `chosen`, and H g for
 * every weight of `all` (g taken as zero outside `chosen`), by one forward
 * pass, one backward pass and the R-operator, with no tape. The gradient of
 * ||g||^2 is 2 H g: the Fisher penalty's gradient without double backprop.
 * Undefined when `chosen` or `all` holds a weight that is not the chain's.
 */
export function denseGradientAndHessian(
  chain: DenseStep[],
  x: tf.Tensor,
  pick: (logits: tf.Tensor) => Int32Array,
  chosen: tf.Variable[],
  all: tf.Variable[],
): GradientAndHessian | undefined {
  const at = positions(chain, chosen);
  const index = positions(chain, all);
  if (!at || !index) return undefined;
  let labels: Int32Array = new Int32Array(0);
  const [grads, hg] = tf.tidy(() => {
    const fwd = forwardPass(chain, x);
    labels = pick(fwd.top);
    const y = tf.tensor1d(labels, "int32");
    const { p, ds } = backwardErrors(chain, fwd, y, 0);
    const grads: tf.Tensor[] = new Array(chosen.length);
    for (const [l, s] of chain.entries()) {
      const ki = at.get(s.kernel);
      if (ki !== undefined) {
        grads[ki] = tf.matMul(fwd.hs[l], ds[l], true, false);
      }
      const bi = s.bias ? at.get(s.bias) : undefined;
      if (bi !== undefined) grads[bi] = tf.sum(ds[l], 0);
    }
    const dir = (w: tf.Variable | null) =>
      w !== null && at.has(w) ? grads[at.get(w)!] : null;
    const hg: tf.Tensor[] = new Array(all.length);
    rPass(chain, fwd, p, ds, dir, index, hg);
    return [grads, hg];
  });
  return { labels, grads, hg };
}
