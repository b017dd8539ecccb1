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
  const index = new Map<tf.Variable, number>();
  params.forEach((p, i) => index.set(p, i));
  const owned = new Set(chain.flatMap((s) => [s.kernel, s.bias]));
  if (params.some((p) => !owned.has(p))) return undefined;
  const dir = (w: tf.Variable | null) =>
    w !== null && index.has(w) ? v[index.get(w)!] : null;

  return tf.tidy(() => {
    const rows = x.shape[0];
    const last = chain.length - 1;
    // Forward: h_l and R h_l (null where zero; R h_0 = R x = 0).
    const hs: tf.Tensor[] = [tf.reshape(x, [rows, -1])];
    const rhs: (tf.Tensor | null)[] = [null];
    let rz: tf.Tensor | null = null;
    for (const [l, s] of chain.entries()) {
      const h = hs[l];
      const vk = dir(s.kernel);
      hs.push(tf.fused.matMul({
        a: h,
        b: s.kernel,
        bias: s.bias ?? undefined,
        activation: s.relu && l < last ? "relu" : "linear",
      }));
      rz = sum([
        rhs[l] ? tf.matMul(rhs[l]!, s.kernel) : null,
        vk ? tf.matMul(h, vk) : null,
      ]);
      const vb = dir(s.bias);
      if (vb) rz = rz ? tf.add(rz, vb) : tf.broadcastTo(vb, hs[l + 1].shape);
      if (l < last) rhs.push(rz && s.relu ? reluBackward(rz, hs[l + 1]) : rz);
    }
    // The last layer's activation, if a ReLU, comes after its logits.
    const top = chain[last].relu ? tf.relu(hs[last + 1]) : hs[last + 1];
    if (chain[last].relu && rz) rz = reluBackward(rz, top);
    // Backward: d_l and R d_l.
    const classes = top.shape[1]!;
    const p = tf.softmax(top);
    const onehot = tf.oneHot(tf.cast(labels, "int32") as tf.Tensor1D, classes);
    let d: tf.Tensor = tf.div(tf.sub(p, onehot), rows);
    let rd: tf.Tensor | null = null;
    if (rz) {
      const prz = tf.mul(p, rz);
      rd = tf.div(tf.sub(prz, tf.mul(p, tf.sum(prz, 1, true))), rows);
    }
    if (chain[last].relu) {
      d = reluBackward(d, top);
      if (rd) rd = reluBackward(rd, top);
    }
    const out: tf.Tensor[] = new Array(params.length);
    for (let l = last; l >= 0; l--) {
      const s = chain[l];
      const ki = index.get(s.kernel);
      if (ki !== undefined) {
        out[ki] = sum([
          rhs[l] ? tf.matMul(rhs[l]!, d, true, false) : null,
          rd ? tf.matMul(hs[l], rd, true, false) : null,
        ]) ?? tf.zerosLike(s.kernel);
      }
      const bi = s.bias ? index.get(s.bias) : undefined;
      if (bi !== undefined) {
        out[bi] = rd ? tf.sum(rd, 0) : tf.zerosLike(s.bias!);
      }
      if (l === 0) break;
      const vk = dir(s.kernel);
      const below = chain[l - 1];
      const rdh = sum([
        rd ? tf.matMul(rd, s.kernel, false, true) : null,
        vk ? tf.matMul(d, vk, false, true) : null,
      ]);
      rd = rdh && below.relu ? reluBackward(rdh, hs[l]) : rdh;
      // d of the first layer's output is needed only with R h_0, never.
      if (l - 1 > 0) {
        const dh = tf.matMul(d, s.kernel, false, true);
        d = below.relu ? reluBackward(dh, hs[l]) : dh;
      }
    }
    return out;
  });
}
