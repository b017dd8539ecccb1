/**
 * The kernels and gradients fisherlab adds to TensorFlow.js so that conv nets
 * train on every backend and gradients of gradients (Hessian-vector products,
 * the Fisher penalty) are exact through convolution, pooling, batch norm and
 * ReLU layers.
 *
 * Importing this module installs everything that can be installed now: the
 * gradients (global to all backends) and, if tfjs-backend-wasm is loaded,
 * the wasm kernels. `useBackend` in core/backend.ts installs them again after
 * loading a backend, so users never call these functions themselves.
 *
 * @module
 */
export { installKernels } from "./install.ts";
export {
  GRADIENTS,
  pickAtArgmax,
  registerGradients,
  windowTaps,
} from "./gradients.ts";
export { registerWasmKernels, WASM_KERNELS } from "./wasm.ts";
export { CPU_KERNELS, registerCpuKernels } from "./cpu.ts";
export { stockKernel, withStockKernels } from "./_registry.ts";
export {
  BATCH_NORM_TRAINING,
  BATCH_NORM_TRAINING_GRAD,
  type BatchNormTraining,
  batchNormTraining,
  canFuseBatchNorm,
  fuseBatchNormLayers,
} from "./batch_norm_training.ts";
