/**
 * Softmax cross-entropy per example, -log softmax(z)_y, as one kernel and
 * one gradient kernel on the cpu and wasm backends.
 *
 * Composed of tfjs ops (one-hot, max, subtract, exp, sum, log, multiply,
 * sum, negate) it takes a dozen kernels forward and about twenty backward;
 * for a small net the engine's cost per kernel, not the arithmetic,
 * dominates them. The logits are B x C with C small, so both kernels are
 * plain loops in float64 on the host copy of the data.
 *
 * The forward kernel also returns softmax(z), which it computes on the way
 * to the log-sum-exp and saves for the backward pass, so the gradient
 * kernel is (p - onehot(y)) dy without an exponential (those are most of
 * either kernel's time). The gradient kernel has no gradient of its own,
 * so it runs only where nothing records the backward pass. Under an enclosing gradient
 * computation (the Fisher penalty, Hessian-vector products) the gradient
 * is (softmax(z) - onehot(y)) dy written with ops, which differentiate to
 * any order; the forward is the one kernel at every depth.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { gradientDepth } from "./_registry.ts";
import { hostOutput, readHost } from "./_host.ts";

/** fisherlab's kernel: -log softmax(logits)_label for each row. */
export const CROSS_ENTROPY = "FisherlabCrossEntropy";

/** fisherlab's kernel: the gradient of the one above for the logits. */
export const CROSS_ENTROPY_GRAD = "FisherlabCrossEntropyGrad";

/**
 * fisherlab's kernel: how many rows of the logits have their label as the
 * first largest entry (tfjs's argMax), as a float32 scalar. No gradient.
 */
export const CORRECT = "FisherlabCorrect";

/**
 * -log softmax(logits)_labels, one per row of B x C float32 `logits` and
 * int32 `labels`, in the fused kernel; undefined when it cannot run
 * (another backend, another rank or dtype).
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { fusedCrossEntropy } from "./cross_entropy.ts";
 * const loss = fusedCrossEntropy(tf.zeros([1, 4]), tf.tensor1d([2], "int32"));
 * if (loss) console.assert(Math.abs(loss.dataSync()[0] - Math.log(4)) < 1e-6);
 * ```
 */
export function fusedCrossEntropy(
  logits: tf.Tensor,
  labels: tf.Tensor,
): tf.Tensor | undefined {
  const backend = tf.getBackend();
  if (
    logits.rank !== 2 || logits.dtype !== "float32" ||
    labels.rank !== 1 || labels.shape[0] !== logits.shape[0] ||
    tf.getKernel(CROSS_ENTROPY, backend) === undefined
  ) {
    return undefined;
  }
  return tf.tidy(() => {
    const [loss] = tf.engine().runKernel(CROSS_ENTROPY, {
      logits,
      labels: labels.dtype === "int32" ? labels : tf.cast(labels, "int32"),
    }, {}) as tf.Tensor[];
    return loss;
  });
}

/**
 * The number of rows of B x C `logits` whose first largest entry is at
 * their label: the sum of tf.equal(tf.argMax(logits, -1), labels), in one
 * kernel on cpu and wasm (five ops elsewhere). A float32 scalar.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { correctCount } from "./cross_entropy.ts";
 * const z = tf.tensor2d([[0, 2, 1], [3, 0, 3]]);
 * const n = correctCount(z, tf.tensor1d([1, 2], "int32"));
 * console.assert(n.dataSync()[0] === 1); // row 2's first maximum is 0
 * ```
 */
export function correctCount(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const y = labels.dtype === "int32" ? labels : tf.cast(labels, "int32");
    if (
      logits.rank === 2 && labels.rank === 1 &&
      tf.getKernel(CORRECT, tf.getBackend()) !== undefined
    ) {
      return tf.engine().runKernel(
        CORRECT,
        { logits, labels: y },
        {},
      ) as tf.Scalar;
    }
    return tf.sum(tf.cast(tf.equal(tf.argMax(logits, -1), y), "float32"));
  });
}

/**
 * The logits' gradient: (softmax - onehot) dy per row; labels get none.
 * Where no gradient computation records this backward pass (tfjs runs a
 * backward pass at the depth that encloses the forward's, so 0 for a
 * plain gradient) it is one kernel on the saved probabilities. Where one
 * does (the inner gradient of the Fisher penalty or of a Hessian-vector
 * product) it is {@linkcode CROSS_ENTROPY_GRAD_Z} on the logits, one
 * recorded kernel whose own gradient is below: a single op where the
 * composite took six, and about ten more in the enclosing backward pass.
 */
export const crossEntropyGrad: tf.GradConfig = {
  kernelName: CROSS_ENTROPY,
  inputsToSave: ["logits", "labels"],
  outputsToSave: [false, true],
  gradFunc: (dys, saved) => {
    const [logits, labels, probs] = saved;
    const depth = gradientDepth();
    // The second output (the probabilities) only feeds this gradient.
    const d = (dys as tf.Tensor[])[0];
    return {
      logits: () =>
        depth === 0
          ? tf.engine().runKernel(CROSS_ENTROPY_GRAD, {
            dy: d,
            probs,
            labels,
          }, {}) as tf.Tensor
          : tf.engine().runKernel(CROSS_ENTROPY_GRAD_Z, {
            dy: d,
            logits,
            labels,
          }, {}) as tf.Tensor,
      labels: () => tf.zerosLike(labels),
    };
  },
};

/**
 * fisherlab's kernel: (softmax(z) - onehot(y)) dy by rows from the logits,
 * differentiable (see {@linkcode crossEntropyGradZGrad}).
 */
export const CROSS_ENTROPY_GRAD_Z = "FisherlabCrossEntropyGradZ";

/**
 * fisherlab's kernel: the two derivatives of the one above for an upstream
 * U, [sum_c U (s - onehot) per row, s (W - sum_c W s) with W = U dy], s =
 * softmax(z). For backward passes nothing records.
 */
export const CROSS_ENTROPY_GRAD_Z_BACKWARD =
  "FisherlabCrossEntropyGradZBackward";

/**
 * The gradient of g = (s - onehot) dy (s = softmax(z), dy one number per
 * row) for an upstream U: d dy = sum_c U (s - onehot), d z = s (W - sum_c
 * W s) with W = U dy (the softmax Jacobian, diag(s) - s s^T, applied to W).
 * One kernel where nothing records, else ops that differentiate again.
 */
export const crossEntropyGradZGrad: tf.GradConfig = {
  kernelName: CROSS_ENTROPY_GRAD_Z,
  inputsToSave: ["dy", "logits", "labels"],
  gradFunc: (upstream, saved) => {
    const [dy, logits, labels] = saved;
    const u = upstream as tf.Tensor;
    const depth = gradientDepth();
    const [ddy, dz] = depth === 0
      ? tf.engine().runKernel(CROSS_ENTROPY_GRAD_Z_BACKWARD, {
        upstream: u,
        dy,
        logits,
        labels,
      }, {}) as tf.Tensor[]
      : (() => {
        const s = tf.softmax(logits);
        const onehot = tf.oneHot(labels as tf.Tensor1D, logits.shape[1]!);
        const w = tf.mul(u, tf.expandDims(dy, 1));
        return [
          tf.sum(tf.mul(u, tf.sub(s, onehot)), 1),
          tf.mul(s, tf.sub(w, tf.sum(tf.mul(w, s), 1, true))),
        ];
      })();
    return {
      dy: () => ddy,
      logits: () => dz,
      labels: () => tf.zerosLike(labels),
    };
  },
};

/** The two kernels for `backendName` ("cpu" or "wasm"). */
export function crossEntropyKernels(backendName: string): tf.KernelConfig[] {
  return [{
    kernelName: CROSS_ENTROPY,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const { logits, labels } = inputs as Record<string, tf.TensorInfo>;
      const [rows, classes] = logits.shape;
      const z = readHost(backend, logits);
      const y = readHost(backend, labels);
      const out = new Float32Array(rows);
      const probs = new Float32Array(rows * classes);
      const e = new Float64Array(classes);
      for (let r = 0; r < rows; r++) {
        const at = r * classes;
        const label = checkedLabel(y[r], classes);
        out[r] = softmaxRow(z, at, classes, e) - z[at + label];
        for (let c = 0; c < classes; c++) probs[at + c] = e[c];
      }
      return [
        hostOutput(backend, [rows], out),
        hostOutput(backend, [rows, classes], probs),
      ];
    },
  }, {
    kernelName: CROSS_ENTROPY_GRAD,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const { dy, probs, labels } = inputs as Record<string, tf.TensorInfo>;
      const [rows, classes] = probs.shape;
      const p = readHost(backend, probs);
      const out = gradientRows(
        p,
        readHost(backend, labels),
        readHost(backend, dy),
      );
      return hostOutput(backend, [rows, classes], out);
    },
  }, {
    kernelName: CROSS_ENTROPY_GRAD_Z,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const { dy, logits, labels } = inputs as Record<string, tf.TensorInfo>;
      const [rows, classes] = logits.shape;
      const z = readHost(backend, logits);
      const p = new Float64Array(rows * classes);
      for (let at = 0; at < p.length; at += classes) {
        softmaxRow(z, at, classes, p.subarray(at, at + classes));
      }
      const out = gradientRows(
        p,
        readHost(backend, labels),
        readHost(backend, dy),
      );
      return hostOutput(backend, [rows, classes], out);
    },
  }, {
    kernelName: CROSS_ENTROPY_GRAD_Z_BACKWARD,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const { upstream, dy, logits, labels } = inputs as Record<
        string,
        tf.TensorInfo
      >;
      const [rows, classes] = logits.shape;
      const u = readHost(backend, upstream);
      const z = readHost(backend, logits);
      const y = readHost(backend, labels);
      const d = readHost(backend, dy);
      const ddy = new Float32Array(rows);
      const dz = new Float32Array(rows * classes);
      const e = new Float64Array(classes);
      for (let r = 0; r < rows; r++) {
        const at = r * classes;
        softmaxRow(z, at, classes, e);
        const label = checkedLabel(y[r], classes);
        const dr = d[r] as number;
        let us = 0; // sum_c U s
        for (let c = 0; c < classes; c++) us += (u[at + c] as number) * e[c];
        ddy[r] = us - (u[at + label] as number);
        // W = U dy, so sum_c W s = dy us.
        for (let c = 0; c < classes; c++) {
          dz[at + c] = e[c] * ((u[at + c] as number) * dr - dr * us);
        }
      }
      return [
        hostOutput(backend, [rows], ddy),
        hostOutput(backend, [rows, classes], dz),
      ];
    },
  }, {
    kernelName: CORRECT,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const { logits, labels } = inputs as Record<string, tf.TensorInfo>;
      const [rows, classes] = logits.shape;
      const z = readHost(backend, logits);
      const y = readHost(backend, labels);
      let count = 0;
      for (let r = 0; r < rows; r++) {
        const at = r * classes;
        let best = 0;
        for (let c = 1; c < classes; c++) {
          if ((z[at + c] as number) > (z[at + best] as number)) best = c;
        }
        if (best === y[r]) count++;
      }
      return hostOutput(backend, [], new Float32Array([count]));
    },
  }];
}

/**
 * Writes softmax(z[at .. at + classes)) into `e` and returns the row's
 * log-sum-exp, both shifted by the row's maximum. When the maximum is not
 * finite (a row of -Infinity, or one with Infinity or NaN) the result is
 * that maximum and e = exp(z - max): NaN where the limit is undefined.
 */
function softmaxRow(
  z: tf.TypedArray,
  at: number,
  classes: number,
  e: Float64Array,
): number {
  let max = -Infinity;
  for (let c = 0; c < classes; c++) max = Math.max(max, z[at + c] as number);
  let sum = 0;
  for (let c = 0; c < classes; c++) {
    e[c] = Math.exp((z[at + c] as number) - max);
    sum += e[c];
  }
  if (!Number.isFinite(max)) return max;
  for (let c = 0; c < classes; c++) e[c] /= sum;
  return max + Math.log(sum);
}

/** (p - onehot(y)) d by rows, for row-major probabilities p. */
function gradientRows(
  p: ArrayLike<number>,
  y: tf.TypedArray,
  d: tf.TypedArray,
): Float32Array {
  const rows = d.length;
  const classes = p.length / rows;
  const out = new Float32Array(p.length);
  for (let r = 0; r < rows; r++) {
    const at = r * classes;
    const dr = d[r] as number;
    for (let c = 0; c < classes; c++) out[at + c] = p[at + c] * dr;
    out[at + checkedLabel(y[r], classes)] -= dr;
  }
  return out;
}

function checkedLabel(label: number, classes: number): number {
  if (!(label >= 0 && label < classes)) {
    throw new RangeError(
      `Cannot compute the cross-entropy: label "${label}" is outside ` +
        `0..${classes - 1}; give one class index per row`,
    );
  }
  return label;
}
