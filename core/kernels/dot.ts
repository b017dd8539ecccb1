/**
 * The inner product of two tensors, sum_i a_i b_i, as one kernel with its
 * own gradient: the building block of Hessian-vector products (g . v) and
 * of gradient-norm penalties (||g||^2 = g . g).
 *
 * Written with ops, tf.sum(tf.mul(a, b)) writes a product tensor of the
 * operands' size, and its gradient broadcasts the incoming scalar to that
 * size (a Tile) before multiplying: for a weight matrix of 200,000 entries
 * those passes cost more than the product the Hessian-vector product is
 * made of. Here the forward reads each operand once (products exact and
 * summed in float64) and the gradient is b dy and a dy, a multiply by a
 * scalar. Both are ops, so the gradient differentiates again.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { heapView, isWasmBackend } from "../native/_wasm_heap.ts";
import { wasmCodeFor } from "../native/_wasm_code.ts";

/** fisherlab's kernel: the float32 scalar sum_i a_i b_i. */
export const DOT = "FisherlabDot";

/**
 * sum_i a_i b_i of two float32 tensors of one shape, as a scalar. Uses the
 * kernel where the backend has it, else tf.sum(tf.mul(a, b)).
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { dot } from "./dot.ts";
 * const d = dot(tf.tensor1d([1, 2, 3]), tf.tensor1d([4, 5, 6]));
 * console.assert(d.dataSync()[0] === 32);
 * ```
 */
export function dot(a: tf.Tensor, b: tf.Tensor): tf.Scalar {
  if (!tf.util.arraysEqual(a.shape, b.shape)) {
    throw new RangeError(
      `Cannot take the inner product: shapes [${a.shape}] and [${b.shape}] ` +
        "differ; pass tensors of one shape",
    );
  }
  if (
    a.dtype !== "float32" || b.dtype !== "float32" ||
    tf.getKernel(DOT, tf.getBackend()) === undefined
  ) {
    return tf.tidy(() => tf.sum(tf.mul(a, b)));
  }
  return tf.engine().runKernel(DOT, { a, b }, {}) as tf.Scalar;
}

interface EngineState {
  state: { gradientDepth: number };
}

/**
 * The gradient of {@linkcode DOT}: dy b for a, dy a for b. A Hessian-vector
 * product differentiates g . v with dy = 1: where nothing records this
 * backward pass and dy is exactly 1 on a backend that reads it without a
 * device round trip, the operand itself is the gradient (x * 1 = x), and
 * the multiply over the weights is skipped.
 */
export const dotGrad: tf.GradConfig = {
  kernelName: DOT,
  inputsToSave: ["a", "b"],
  gradFunc: (dy, saved) => {
    const [a, b] = saved;
    const d = dy as tf.Tensor;
    const one = isOne(d);
    return {
      a: () => one ? tf.clone(b) : tf.mul(b, d),
      b: () => one ? tf.clone(a) : tf.mul(a, d),
    };
  },
};

/** Whether `t` is the number 1 and multiplying by it need not be recorded. */
function isOne(t: tf.Tensor): boolean {
  const depth = (tf.engine() as unknown as EngineState).state.gradientDepth;
  const backend = tf.getBackend();
  return depth === 0 && t.size === 1 &&
    (backend === "wasm" || backend === "cpu") && t.dataSync()[0] === 1;
}

/**
 * The {@linkcode DOT} kernel for `backendName`: SIMD on wasm (the memory
 * read in place), a float64 loop over the host copies elsewhere.
 */
export function dotKernel(backendName: string): tf.KernelConfig {
  return {
    kernelName: DOT,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const { a, b } = inputs as Record<string, tf.TensorInfo>;
      const size = tf.util.sizeFromShape(a.shape);
      let sum = 0;
      const code = isWasmBackend(backend) ? wasmCodeFor(backend) : undefined;
      if (isWasmBackend(backend) && code) {
        const av = heapView(backend, a);
        const bv = heapView(backend, b);
        const whole = size - (size % 4);
        sum = code.dot(av.byteOffset, bv.byteOffset, whole / 4);
        for (let i = whole; i < size; i++) sum += av[i] * bv[i];
        const out = backend.makeOutput([], "float32");
        heapView(backend, out)[0] = sum;
        return out;
      }
      const host = backend as {
        readSync(id: object): tf.TypedArray;
        makeTensorInfo(
          s: number[],
          d: tf.DataType,
          v: Float32Array,
        ): tf.TensorInfo;
      };
      const av = host.readSync(a.dataId);
      const bv = host.readSync(b.dataId);
      for (let i = 0; i < size; i++) {
        sum += (av[i] as number) * (bv[i] as number);
      }
      return host.makeTensorInfo([], "float32", new Float32Array([sum]));
    },
  };
}
