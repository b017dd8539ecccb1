/**
 * Kernels fisherlab replaces in tfjs-backend-cpu. Its Conv2DBackpropFilter
 * reads and writes one element at a time through tensor buffers (a few
 * MFLOP/s: minutes per SimpleCNN training step at batch 128) and its
 * MaxPoolGrad rescans every window for every input pixel. The replacements
 * compute the same values (checked against the stock kernels): the filter
 * gradient as one cpu Conv2D, the max-pool gradient in one pass.
 *
 * @module
 */
import { crossEntropyKernels } from "./cross_entropy.ts";
import { denseKernel, reluBackwardKernel } from "./dense.ts";
import { dotKernels } from "./dot.ts";
import { tf } from "../tf.ts";
import type { Info } from "./_compose.ts";
import type { PoolAttrs } from "./_pool_geometry.ts";
import { isOurs, mark, type Marked, replaceKernel } from "./_registry.ts";
import {
  conv2dBackpropFilter,
  type Conv2DBackpropFilterAttrs,
} from "./conv2d_backprop_filter.ts";
import { maxPoolGrad, pickKernelConfig } from "./max_pool_grad.ts";
import { PICK_AT_ARGMAX } from "./gradients.ts";

const CPU = "cpu";

/** The kernels {@linkcode registerCpuKernels} replaces on cpu. */
export const CPU_KERNELS: readonly string[] = [
  "Conv2DBackpropFilter",
  "MaxPoolGrad",
];

function filterKernel(stock: tf.KernelConfig): tf.KernelConfig {
  return {
    ...stock,
    kernelFunc: (args) => {
      const a = args.attrs as unknown as Conv2DBackpropFilterAttrs;
      if (a.dataFormat === "NCHW") return stock.kernelFunc(args);
      return conv2dBackpropFilter(
        args.backend as tf.KernelBackend,
        CPU,
        args.inputs.x as Info,
        args.inputs.dy as Info,
        a,
      );
    },
  };
}

/** fisherlab's own kernel behind `pickAtArgmax` (gradients.ts). */
function pickKernel(): Marked {
  return mark(pickKernelConfig(PICK_AT_ARGMAX, CPU));
}

function maxPoolGradKernel(stock: tf.KernelConfig): tf.KernelConfig {
  return {
    ...stock,
    kernelFunc: ({ inputs, backend, attrs }) =>
      maxPoolGrad(
        backend as tf.KernelBackend,
        inputs.dy as Info,
        inputs.input as Info,
        attrs as unknown as PoolAttrs,
      ),
  };
}

/**
 * Replaces the slow cpu kernels; the stock ones stay reachable through
 * `stockKernel`. Calling it again does nothing.
 */
export function registerCpuKernels(): void {
  const wrappers: [string, (s: tf.KernelConfig) => tf.KernelConfig][] = [
    ["Conv2DBackpropFilter", filterKernel],
    ["MaxPoolGrad", maxPoolGradKernel],
  ];
  for (const [name, wrap] of wrappers) {
    const stock = tf.getKernel(name, CPU);
    if (stock && !isOurs(name, CPU)) replaceKernel(mark(wrap(stock)));
  }
  if (tf.getKernel("Conv2D", CPU)) {
    replaceKernel(pickKernel());
    for (const config of crossEntropyKernels(CPU)) {
      replaceKernel(mark(config));
    }
    replaceKernel(mark(denseKernel(CPU)));
    replaceKernel(mark(reluBackwardKernel(CPU)));
    for (const config of dotKernels(CPU)) replaceKernel(mark(config));
  }
}
