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
import { gradientDepth } from "./_registry.ts";
import { heapView, isWasmBackend } from "../native/_wasm_heap.ts";
import { wasmCodeFor } from "../native/_wasm_code.ts";
import { hostOutput, readHost } from "./_host.ts";

/** fisherlab's kernel: the float32 scalar sum_i a_i b_i. */
export const DOT = "FisherlabDot";

/**
 * fisherlab's kernel: the float32 scalar sum_i x_i^2. One input, so its
 * gradient is one multiply, 2 dy x, where dot(x, x) would give two and
 * their sum.
 */
export const SQUARED_NORM = "FisherlabSquaredNorm";

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

/**
 * sum_i x_i^2 of a float32 tensor, as a scalar: {@linkcode dot} of x with
 * itself, with a gradient of one multiply.
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { squaredSum } from "./dot.ts";
 * console.assert(squaredSum(tf.tensor1d([3, 4])).dataSync()[0] === 25);
 * ```
 */
export function squaredSum(x: tf.Tensor): tf.Scalar {
  if (
    x.dtype !== "float32" ||
    tf.getKernel(SQUARED_NORM, tf.getBackend()) === undefined
  ) {
    return tf.tidy(() => tf.sum(tf.square(x)));
  }
  return tf.engine().runKernel(SQUARED_NORM, { x }, {}) as tf.Scalar;
}

/** The gradient of {@linkcode SQUARED_NORM}: 2 dy x. */
export const squaredNormGrad: tf.GradConfig = {
  kernelName: SQUARED_NORM,
  inputsToSave: ["x"],
  gradFunc: (dy, [x]) => ({ x: () => tf.mul(x, tf.mul(dy as tf.Tensor, 2)) }),
};

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
  const depth = gradientDepth();
  const backend = tf.getBackend();
  return depth === 0 && t.size === 1 &&
    (backend === "wasm" || backend === "cpu") && t.dataSync()[0] === 1;
}

/**
 * The {@linkcode DOT} and {@linkcode SQUARED_NORM} kernels for
 * `backendName`: SIMD on wasm (the memory read in place), a float64 loop
 * over the host copies elsewhere.
 */
export function dotKernels(backendName: string): tf.KernelConfig[] {
  return [{
    kernelName: DOT,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const { a, b } = inputs as Record<string, tf.TensorInfo>;
      return innerProduct(backend, a, b);
    },
  }, {
    kernelName: SQUARED_NORM,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const { x } = inputs as Record<string, tf.TensorInfo>;
      return innerProduct(backend, x, x);
    },
  }];
}

/** sum_i a_i b_i as a new scalar of `backend`. */
function innerProduct(
  backend: unknown,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
): tf.TensorInfo {
  const size = tf.util.sizeFromShape(a.shape);
  let sum = 0;
  const code = isWasmBackend(backend) ? wasmCodeFor(backend) : undefined;
  if (isWasmBackend(backend) && code) {
    const av = heapView(backend, a);
    const bv = heapView(backend, b);
    const whole = size - (size % 4);
    sum = code.dot(av.byteOffset, bv.byteOffset, whole / 4);
    for (let i = whole; i < size; i++) sum += av[i] * bv[i];
  } else {
    const av = readHost(backend, a);
    const bv = a.dataId === b.dataId ? av : readHost(backend, b);
    for (let i = 0; i < size; i++) {
      sum += (av[i] as number) * (bv[i] as number);
    }
  }
  return hostOutput(backend, [], Float32Array.of(sum));
}
