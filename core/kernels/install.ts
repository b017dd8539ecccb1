/**
 * Installs fisherlab's gradients and wasm kernels; importing this module
 * installs them once.
 *
 * @module
 */
import { registerGradients } from "./gradients.ts";
import { registerWasmKernels } from "./wasm.ts";
import { registerCpuKernels } from "./cpu.ts";
import { fuseBatchNormLayers } from "./batch_norm_training.ts";

/**
 * Installs every gradient, the cpu kernels and, when tfjs-backend-wasm is
 * loaded, the wasm kernels, and lets batch-norm layers use the fused
 * kernels of batch_norm_training.ts wherever a backend registers them.
 * Idempotent; `useBackend` calls it after loading a backend.
 */
export function installKernels(): void {
  registerGradients();
  fuseBatchNormLayers();
  registerCpuKernels();
  registerWasmKernels();
}

installKernels();
