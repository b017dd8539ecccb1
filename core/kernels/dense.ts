/**
 * A dense layer, act(x W + b) with act linear or ReLU, as one kernel with
 * its own gradient.
 *
 * tfjs-layers' Dense computes this with tfjs's fused matMul, which under a
 * gradient computation falls back to a product, an add and a ReLU (three
 * kernels, each input saved by a copy) and wraps the linear case in a
 * custom gradient; its backward pass then runs about ten kernels, half of
 * them reshapes. For an MLP the engine's work per kernel is a large part
 * of a training step. Here the forward is the backend's fused product
 * (bias and ReLU applied on its output) and the backward is three products
 * and a sum: dz = dy where y > 0, dx = dz W^T, dW = x^T dz, db = sum dz.
 * These are tfjs ops, so the gradient differentiates again (the Fisher
 * penalty, Hessian-vector products): the mask's own derivative is zero.
 *
 * @module
 */
import { tf, tfl } from "../tf.ts";
import { gradientDepth } from "./_registry.ts";
import { routeLayerCall } from "./_layer_patch.ts";
import { hostOutput, readHost } from "./_host.ts";
import { heapView, isWasmBackend } from "../native/_wasm_heap.ts";
import { wasmCodeFor } from "../native/_wasm_code.ts";

/** fisherlab's kernel: act(x W + b) for a B x K input, act linear or ReLU. */
export const DENSE = "FisherlabDense";

/**
 * fisherlab's kernel: dy step(y), a ReLU's gradient from its output, for
 * the backward pass where nothing records it (it has no gradient).
 */
export const RELU_BACKWARD = "FisherlabReluBackward";

/** The activations the kernel applies. */
export type DenseActivation = "linear" | "relu";

/**
 * act(x W + b) by the one kernel, or undefined when it cannot run here
 * (another backend, a rank other than 2, a dtype other than float32,
 * shapes that do not match).
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { fusedDense } from "./dense.ts";
 * const y = fusedDense(
 *   tf.tensor2d([[1, -2]]),
 *   tf.tensor2d([[1, 0], [0, 1]]),
 *   tf.tensor1d([0.5, 0.5]),
 *   "relu",
 * );
 * if (y) console.assert(y.dataSync()[1] === 0);
 * ```
 */
export function fusedDense(
  x: tf.Tensor,
  kernel: tf.Tensor,
  bias: tf.Tensor | null,
  activation: DenseActivation,
): tf.Tensor | undefined {
  if (!canFuseDense(x, kernel, bias)) return undefined;
  return runDense(x, kernel, bias, activation);
}

/** The kernel itself, for operands {@linkcode canFuseDense} accepted. */
function runDense(
  x: tf.Tensor,
  kernel: tf.Tensor,
  bias: tf.Tensor | null,
  activation: DenseActivation,
): tf.Tensor {
  const inputs: tf.NamedTensorMap = bias ? { x, kernel, bias } : { x, kernel };
  return tf.engine().runKernel(DENSE, inputs, {
    activation,
  } as unknown as tf.NamedAttrMap) as tf.Tensor;
}

/** Whether {@linkcode fusedDense} can run on these operands here. */
export function canFuseDense(
  x: tf.Tensor,
  kernel: tf.Tensor,
  bias: tf.Tensor | null,
): boolean {
  const units = kernel.shape[1];
  return x.rank === 2 && kernel.rank === 2 &&
    x.shape[1] === kernel.shape[0] && x.dtype === "float32" &&
    kernel.dtype === "float32" &&
    (bias === null ||
      (bias.rank === 1 && bias.shape[0] === units &&
        bias.dtype === "float32")) &&
    tf.getKernel(DENSE, tf.getBackend()) !== undefined;
}

/**
 * The kernel for `backendName`: the backend's own `_FusedMatMul` (bias
 * and activation applied to its output) on the operands seen as a batch
 * of one, as tfjs's fused matMul calls it.
 */
export function denseKernel(backendName: string): tf.KernelConfig {
  return {
    kernelName: DENSE,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, kernel, bias } = inputs as Record<string, tf.TensorInfo>;
      const [rows, depth] = x.shape;
      const units = kernel.shape[1];
      const fused = tf.getKernel("_FusedMatMul", backendName);
      if (!fused) {
        throw new Error(
          `Cannot run ${DENSE} on "${backendName}": the backend has no ` +
            "_FusedMatMul kernel",
        );
      }
      const out = fused.kernelFunc({
        inputs: {
          a: { ...x, shape: [1, rows, depth] },
          b: { ...kernel, shape: [1, depth, units] },
          ...(bias ? { bias } : {}),
        },
        backend,
        attrs: {
          transposeA: false,
          transposeB: false,
          activation: (attrs as { activation: DenseActivation }).activation,
        },
      }) as tf.TensorInfo;
      return { dataId: out.dataId, shape: [rows, units], dtype: out.dtype };
    },
  };
}

/**
 * dy step(y): the gradient of y = relu(z) carried back through it, read
 * from the output (y > 0 exactly where z > 0). One kernel where nothing
 * records the computation, else ops that differentiate again (the mask's
 * own derivative is zero).
 *
 * @example
 * ```ts
 * import { tf } from "../tf.ts";
 * import { reluBackward } from "./dense.ts";
 * const g = reluBackward(tf.tensor1d([5, 5]), tf.tensor1d([0, 2]));
 * console.assert(g.dataSync()[0] === 0 && g.dataSync()[1] === 5);
 * ```
 */
export function reluBackward(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  const depth = gradientDepth();
  const kernel = depth === 0 && dy.dtype === "float32" &&
    y.dtype === "float32" && tf.util.arraysEqual(dy.shape, y.shape) &&
    tf.getKernel(RELU_BACKWARD, tf.getBackend()) !== undefined;
  return kernel
    ? tf.engine().runKernel(RELU_BACKWARD, { dy, y }, {}) as tf.Tensor
    : tf.mul(dy, tf.step(y));
}

/**
 * The {@linkcode RELU_BACKWARD} kernel for `backendName`: one SIMD pass on
 * wasm, a loop on the host copy elsewhere; both give tf.mul(dy, tf.step(y))
 * exactly.
 */
export function reluBackwardKernel(backendName: string): tf.KernelConfig {
  return {
    kernelName: RELU_BACKWARD,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const { dy, y } = inputs as Record<string, tf.TensorInfo>;
      const size = tf.util.sizeFromShape(y.shape);
      const code = isWasmBackend(backend) ? wasmCodeFor(backend) : undefined;
      if (isWasmBackend(backend) && code) {
        const out = backend.makeOutput(y.shape, "float32");
        const [yv, dv, ov] = [y, dy, out].map((t) => heapView(backend, t));
        const whole = size - (size % 4);
        code.reluBackward(
          yv.byteOffset,
          dv.byteOffset,
          ov.byteOffset,
          whole / 4,
        );
        for (let i = whole; i < size; i++) ov[i] = dv[i] * stepOf(yv[i]);
        return out;
      }
      const yv = readHost(backend, y);
      const dv = readHost(backend, dy);
      const out = new Float32Array(size);
      for (let i = 0; i < size; i++) {
        out[i] = (dv[i] as number) * stepOf(yv[i] as number);
      }
      return hostOutput(backend, y.shape, out);
    },
  };
}

/** tfjs's step(v): 1 above 0, NaN for NaN, else 0. */
function stepOf(v: number): number {
  return v > 0 ? 1 : Number.isNaN(v) ? NaN : 0;
}

/** The gradient of {@linkcode DENSE}; see the module documentation. */
export const denseGrad: tf.GradConfig = {
  kernelName: DENSE,
  inputsToSave: ["x", "kernel"],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, kernel, y] = saved;
    const relu = (attrs as { activation: DenseActivation }).activation ===
      "relu";
    // ReLU's derivative read from its output: y > 0 exactly where the
    // pre-activation is (y = 0 and z <= 0 give 0 both ways; NaN stays).
    // One kernel where nothing records this backward pass, else ops.
    const d = dy as tf.Tensor;
    const dz = relu ? reluBackward(d, y) : d;
    return {
      x: () => tf.matMul(dz, kernel, false, true),
      kernel: () => tf.matMul(x, dz, true, false),
      bias: () => tf.sum(dz, 0),
    };
  },
};

/** The parts of tfjs-layers' Dense the fused call uses. */
interface DenseLayer {
  activation: { getClassName(): string } | null;
  kernel: { read(): tf.Tensor };
  bias: { read(): tf.Tensor } | null;
  invokeCallHook(inputs: unknown, kwargs: unknown): void;
}

/**
 * Makes every tfjs-layers Dense layer with a linear or ReLU activation and
 * a B x K float32 input compute with {@linkcode fusedDense} where the
 * backend has the kernel; anything else keeps the layer's own code.
 * Idempotent.
 */
export function fuseDenseLayers(): void {
  routeLayerCall<DenseLayer>(
    tfl.layers.dense({ units: 1 }),
    Symbol.for("fisherlab.dense"),
    (layer, input, kwargs) => {
      const name = layer.activation?.getClassName() ?? "linear";
      if (name !== "linear" && name !== "relu") return undefined;
      const kernel = layer.kernel.read();
      const bias = layer.bias?.read() ?? null;
      if (!canFuseDense(input, kernel, bias)) return undefined;
      layer.invokeCallHook(input, kwargs);
      return runDense(input, kernel, bias, name);
    },
  );
}
