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
import { fuseDenseLayers } from "./dense.ts";

/**
 * Installs every gradient, the cpu kernels and, when tfjs-backend-wasm is
 * loaded, the wasm kernels, and lets batch-norm and dense layers use the
 * fused kernels of batch_norm_training.ts and dense.ts wherever a backend
 * registers them.
 * Idempotent; `useBackend` calls it after loading a backend.
 */
export function installKernels(): void {
  registerGradients();
  fuseBatchNormLayers();
  fuseDenseLayers();
  registerCpuKernels();
  registerWasmKernels();
}

installKernels();
