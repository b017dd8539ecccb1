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
 * The gradient kernel has no gradient of its own, so it runs only where
 * nothing records the backward pass. Under an enclosing gradient
 * computation (the Fisher penalty, Hessian-vector products) the gradient
 * is (softmax(z) - onehot(y)) dy written with ops, which differentiate to
 * any order; the forward is the one kernel at every depth.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { isWasmBackend } from "../native/_wasm_heap.ts";

/** fisherlab's kernel: -log softmax(logits)_label for each row. */
export const CROSS_ENTROPY = "FisherlabCrossEntropy";

/** fisherlab's kernel: the gradient of the one above for the logits. */
export const CROSS_ENTROPY_GRAD = "FisherlabCrossEntropyGrad";

interface EngineState {
  state: { gradientDepth: number };
}

interface HostBackend {
  readSync(dataId: object): tf.TypedArray;
}

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
  return tf.tidy(() =>
    tf.engine().runKernel(CROSS_ENTROPY, {
      logits,
      labels: labels.dtype === "int32" ? labels : tf.cast(labels, "int32"),
    }, {}) as tf.Tensor
  );
}

/**
 * The logits' gradient: (softmax - onehot) dy per row; labels get none.
 * One kernel when no gradient computation is recording (tfjs's engine
 * runs a backward pass at the depth that encloses the forward's, so 0 for
 * a plain gradient), else ops the recording one can differentiate.
 */
export const crossEntropyGrad: tf.GradConfig = {
  kernelName: CROSS_ENTROPY,
  inputsToSave: ["logits", "labels"],
  gradFunc: (dy, saved) => {
    const [logits, labels] = saved;
    const depth = (tf.engine() as unknown as EngineState).state.gradientDepth;
    const d = dy as tf.Tensor;
    return {
      logits: () =>
        depth === 0
          ? tf.engine().runKernel(CROSS_ENTROPY_GRAD, {
            dy: d,
            logits,
            labels,
          }, {}) as tf.Tensor
          : tf.mul(
            tf.sub(
              tf.softmax(logits),
              tf.oneHot(labels as tf.Tensor1D, logits.shape[1]!),
            ),
            tf.expandDims(d, 1),
          ),
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
      const z = read(backend, logits);
      const y = read(backend, labels);
      const out = new Float32Array(rows);
      for (let r = 0; r < rows; r++) {
        const label = checkedLabel(y[r], classes);
        out[r] = logSumExp(z, r * classes, classes) - z[r * classes + label];
      }
      return output(backend, [rows], out);
    },
  }, {
    kernelName: CROSS_ENTROPY_GRAD,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const { dy, logits, labels } = inputs as Record<string, tf.TensorInfo>;
      const [rows, classes] = logits.shape;
      const z = read(backend, logits);
      const y = read(backend, labels);
      const d = read(backend, dy);
      const out = new Float32Array(rows * classes);
      for (let r = 0; r < rows; r++) {
        const at = r * classes;
        const lse = logSumExp(z, at, classes);
        for (let c = 0; c < classes; c++) {
          out[at + c] = Math.exp(z[at + c] - lse) * d[r];
        }
        out[at + checkedLabel(y[r], classes)] -= d[r];
      }
      return output(backend, [rows, classes], out);
    },
  }];
}

/** log sum_c exp(z[at + c]), shifted by the row's maximum. */
function logSumExp(z: tf.TypedArray, at: number, classes: number): number {
  let max = -Infinity;
  for (let c = 0; c < classes; c++) max = Math.max(max, z[at + c] as number);
  if (!Number.isFinite(max)) return max;
  let sum = 0;
  for (let c = 0; c < classes; c++) {
    sum += Math.exp((z[at + c] as number) - max);
  }
  return max + Math.log(sum);
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

function read(backend: unknown, t: tf.TensorInfo): tf.TypedArray {
  return (backend as HostBackend).readSync(t.dataId);
}

function output(
  backend: unknown,
  shape: number[],
  values: Float32Array,
): tf.TensorInfo {
  if (isWasmBackend(backend)) {
    const b = backend as unknown as {
      makeOutput(
        s: number[],
        d: tf.DataType,
        offset: undefined,
        v: Float32Array,
      ): tf.TensorInfo;
    };
    return b.makeOutput(shape, "float32", undefined, values);
  }
  const cpu = backend as {
    makeTensorInfo(s: number[], d: tf.DataType, v: Float32Array): tf.TensorInfo;
  };
  return cpu.makeTensorInfo(shape, "float32", values);
}
