/**
 * Kernels fisherlab adds to, or replaces in, tfjs-backend-wasm so that conv
 * nets train fast and exactly on it: Conv2DBackpropFilter and the two
 * depthwise backprops (missing),
 * Conv2DBackpropInput (the stock one is a slow direct loop), MaxPoolGrad
 * (the stock one is slow and sends ties and all-padding windows to the wrong
 * tap), BatchMatMul with transposed operands (the stock one falls off
 * XNNPACK's fast path), the forward convolutions when given a numeric
 * pad (the stock ones then write past their output), Tile (the stock
 * one computes every output index: 10 ms to broadcast a number over
 * 200,000 entries, the gradient of a sum over a weight matrix), and Sum and
 * Mean over consecutive middle axes (the stock ones transpose them to the
 * end first).
 *
 * @module
 */
import { tf } from "../tf.ts";
import { type Info, KernelScope } from "./_compose.ts";
import type { PoolAttrs } from "./_pool_geometry.ts";
import {
  conv2dBackpropFilter,
  type Conv2DBackpropFilterAttrs,
} from "./conv2d_backprop_filter.ts";
import {
  conv2dBackpropInput,
  type Conv2DBackpropInputAttrs,
} from "./conv2d_backprop_input.ts";
import { maxPoolGrad, pickKernelConfig } from "./max_pool_grad.ts";
import { PICK_AT_ARGMAX } from "./gradients.ts";
import { isOurs, mark, type Marked, replaceKernel } from "./_registry.ts";
import { tile } from "../native/_elementwise.ts";
import {
  CORRECT,
  CROSS_ENTROPY,
  CROSS_ENTROPY_GRAD,
  CROSS_ENTROPY_GRAD_Z,
  CROSS_ENTROPY_GRAD_Z_BACKWARD,
  crossEntropyKernels,
} from "./cross_entropy.ts";
import { isWasmBackend, type WasmBackend } from "../native/_wasm_heap.ts";
import {
  DENSE,
  denseKernel,
  RELU_BACKWARD,
  reluBackwardKernel,
} from "./dense.ts";
import { DOT, dotKernels, SQUARED_NORM } from "./dot.ts";
import { middleAxesSum } from "../native/_channel.ts";
import { wasmCodeFor } from "../native/_wasm_code.ts";
import {
  type DepthwiseBackpropAttrs,
  depthwiseBackpropFilter,
  depthwiseBackpropInput,
} from "./depthwise_backprop.ts";

const WASM = "wasm";

/** The kernels {@linkcode registerWasmKernels} installs for wasm. */
export const WASM_KERNELS: readonly string[] = [
  "Conv2DBackpropFilter",
  "Conv2DBackpropInput",
  "MaxPoolGrad",
  "BatchMatMul",
  "DepthwiseConv2dNativeBackpropFilter",
  "DepthwiseConv2dNativeBackpropInput",
  "Conv2D",
  "FusedConv2D",
  "DepthwiseConv2dNative",
  "FusedDepthwiseConv2D",
  "Tile",
  "Sum",
  "Mean",
  PICK_AT_ARGMAX,
  CROSS_ENTROPY,
  CROSS_ENTROPY_GRAD,
  CROSS_ENTROPY_GRAD_Z,
  CROSS_ENTROPY_GRAD_Z_BACKWARD,
  CORRECT,
  DENSE,
  RELU_BACKWARD,
  DOT,
  SQUARED_NORM,
];

function filterKernel(): Marked {
  return mark({
    kernelName: "Conv2DBackpropFilter",
    backendName: WASM,
    kernelFunc: ({ inputs, backend, attrs }) =>
      conv2dBackpropFilter(
        backend as tf.KernelBackend,
        WASM,
        inputs.x as Info,
        inputs.dy as Info,
        attrs as unknown as Conv2DBackpropFilterAttrs,
      ),
  });
}

function depthwiseKernels(): Marked[] {
  const configs: tf.KernelConfig[] = [{
    kernelName: "DepthwiseConv2dNativeBackpropFilter",
    backendName: WASM,
    kernelFunc: ({ inputs, backend, attrs }) =>
      depthwiseBackpropFilter(
        backend as tf.KernelBackend,
        WASM,
        inputs.x as Info,
        inputs.dy as Info,
        attrs as unknown as DepthwiseBackpropAttrs,
      ),
  }, {
    kernelName: "DepthwiseConv2dNativeBackpropInput",
    backendName: WASM,
    kernelFunc: ({ inputs, backend, attrs }) =>
      depthwiseBackpropInput(
        backend as tf.KernelBackend,
        WASM,
        inputs.dy as Info,
        inputs.filter as Info,
        attrs as unknown as DepthwiseBackpropAttrs,
      ),
  }];
  return configs.map(mark);
}

function inputKernel(stock: tf.KernelConfig): Marked {
  return mark({
    ...stock,
    kernelFunc: (args) => {
      const { inputs, backend, attrs } = args;
      const dx = conv2dBackpropInput(
        backend as tf.KernelBackend,
        WASM,
        inputs.dy as Info,
        inputs.filter as Info,
        attrs as unknown as Conv2DBackpropInputAttrs,
      );
      return dx ?? stock.kernelFunc(args);
    },
  });
}

/** fisherlab's own kernel behind `pickAtArgmax` (gradients.ts). */
function pickKernel(): Marked {
  return mark(pickKernelConfig(PICK_AT_ARGMAX, WASM));
}

function maxPoolGradKernel(stock: tf.KernelConfig): Marked {
  return mark({
    ...stock,
    kernelFunc: ({ inputs, backend, attrs }) =>
      maxPoolGrad(
        backend as tf.KernelBackend,
        inputs.dy as Info,
        inputs.input as Info,
        attrs as unknown as PoolAttrs,
      ),
  });
}

/**
 * Tile of 4-byte tensors in place on the wasm memory, each block written
 * once and then doubled (plain JavaScript, no FFI); others go to the stock
 * kernel.
 */
function tileKernel(stock: tf.KernelConfig): Marked {
  return mark({
    ...stock,
    kernelFunc: (args) => {
      const { inputs, backend, attrs } = args;
      const out = isWasmBackend(backend)
        ? tile(
          backend,
          inputs as unknown as { x: tf.TensorInfo },
          attrs as { reps?: number[] },
          { minSize: 0 },
        )
        : undefined;
      return out ?? stock.kernelFunc(args);
    },
  });
}

/**
 * Sum or Mean over consecutive middle axes of a float32 tensor by SIMD
 * column sums on the wasm memory (`middleAxesSum` in native/_channel.ts,
 * plain WebAssembly, no FFI); other reductions go to the stock kernel.
 */
function reductionKernel(stock: tf.KernelConfig, mean: boolean): Marked {
  return mark({
    ...stock,
    kernelFunc: (args) => {
      const { inputs, backend, attrs } = args;
      const { x } = inputs as { x: tf.TensorInfo };
      const { axis, keepDims } = attrs as {
        axis?: number | number[];
        keepDims?: boolean;
      };
      const colsum = isWasmBackend(backend) && axis != null
        ? wasmCodeFor(backend)?.colsum
        : undefined;
      const out = colsum
        ? middleAxesSum(
          backend as WasmBackend,
          colsum,
          x,
          tf.util.parseAxisParam(axis!, x.shape),
          keepDims ?? false,
          mean,
        )
        : undefined;
      return out ?? stock.kernelFunc(args);
    },
  });
}

function matMulKernel(stock: tf.KernelConfig): Marked {
  return mark({
    ...stock,
    kernelFunc: (args) => {
      const { inputs, backend, attrs } = args;
      const { transposeA, transposeB } = attrs as {
        transposeA?: boolean;
        transposeB?: boolean;
      };
      if (!transposeA && !transposeB) return stock.kernelFunc(args);
      return KernelScope.compose(backend as tf.KernelBackend, WASM, (k) => {
        const a = transposeA ? swapLast(k, inputs.a as Info) : inputs.a as Info;
        const b = transposeB ? swapLast(k, inputs.b as Info) : inputs.b as Info;
        return k.track(
          stock.kernelFunc({
            inputs: { a, b },
            backend,
            attrs: { ...attrs, transposeA: false, transposeB: false },
          }) as Info,
        );
      });
    },
  });
}

/**
 * tfjs sizes the output of a numeric `pad` with the filter height on both
 * axes, but the stock wasm convolutions pad symmetrically and size it with
 * each axis's own filter size: with a non-square filter they compute the
 * wrong values and write past their output. This wrapper passes explicit
 * pads (cropping x where tfjs's output stops early) that give tfjs's
 * geometry, the one the cpu backend computes.
 */
function numericPadKernel(stock: tf.KernelConfig, depthwise: boolean): Marked {
  return mark({
    ...stock,
    kernelFunc: (args) => {
      const { inputs, backend, attrs } = args;
      const a = attrs as unknown as {
        pad: unknown;
        strides: number | [number, number];
        dilations?: number | [number, number];
        dimRoundingMode?: "floor" | "round" | "ceil";
      };
      if (typeof a.pad !== "number") return stock.kernelFunc(args);
      const x = inputs.x as Info;
      const info = tf.backend_util.computeConv2DInfo(
        x.shape as [number, number, number, number],
        (inputs.filter as Info).shape as [number, number, number, number],
        a.strides,
        a.dilations ?? 1,
        a.pad,
        a.dimRoundingMode,
        depthwise,
      );
      const [n, h, w, c] = x.shape;
      const p = a.pad;
      const reachH = (info.outHeight - 1) * info.strideHeight +
        info.effectiveFilterHeight;
      const reachW = (info.outWidth - 1) * info.strideWidth +
        info.effectiveFilterWidth;
      const bottom = reachH - h - p;
      const right = reachW - w - p;
      return KernelScope.compose(backend as tf.KernelBackend, WASM, (k) => {
        const input = bottom < 0 || right < 0
          ? k.run("Slice", { x }, {
            begin: [0, 0, 0, 0],
            size: [n, h + Math.min(0, bottom), w + Math.min(0, right), c],
          })
          : x;
        return k.track(
          stock.kernelFunc({
            inputs: { ...inputs, x: input },
            backend,
            attrs: {
              ...attrs,
              pad: [[0, 0], [p, Math.max(0, bottom)], [
                p,
                Math.max(0, right),
              ], [0, 0]],
              dimRoundingMode: undefined,
            } as unknown as tf.NamedAttrMap,
          }) as Info,
        );
      });
    },
  });
}

function swapLast(k: KernelScope, x: Info): Info {
  const perm = x.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return k.transpose(x, perm);
}

let installed = false;

/**
 * Installs fisherlab's wasm kernels. Run it after tfjs-backend-wasm has been
 * imported (its import registers the stock kernels, which would otherwise
 * replace these); `useBackend` does. Only the first call that finds the wasm
 * backend loaded installs anything, so kernels registered later by other
 * packs (core/native) are never undone.
 */
export function registerWasmKernels(): void {
  if (installed || !tf.getKernel("Conv2D", WASM)) return;
  installed = true;
  replaceKernel(filterKernel());
  replaceKernel(pickKernel());
  for (const config of depthwiseKernels()) replaceKernel(config);
  for (const config of crossEntropyKernels(WASM)) replaceKernel(mark(config));
  replaceKernel(mark(denseKernel(WASM)));
  replaceKernel(mark(reluBackwardKernel(WASM)));
  for (const config of dotKernels(WASM)) replaceKernel(mark(config));
  const wrappers: [string, (stock: tf.KernelConfig) => Marked][] = [
    ["Conv2DBackpropInput", inputKernel],
    ["MaxPoolGrad", maxPoolGradKernel],
    ["BatchMatMul", matMulKernel],
    ["Tile", tileKernel],
    ["Sum", (stock) => reductionKernel(stock, false)],
    ["Mean", (stock) => reductionKernel(stock, true)],
  ];
  for (const name of ["Conv2D", "FusedConv2D"]) {
    wrappers.push([name, (stock) => numericPadKernel(stock, false)]);
  }
  for (const name of ["DepthwiseConv2dNative", "FusedDepthwiseConv2D"]) {
    wrappers.push([name, (stock) => numericPadKernel(stock, true)]);
  }
  for (const [name, wrap] of wrappers) {
    const stock = tf.getKernel(name, WASM);
    if (stock && !isOurs(name, WASM)) replaceKernel(wrap(stock));
  }
}
