/**
 * Installs fisherlab's gradients and wasm kernels; importing this module
 * installs them once.
 *
 * @module
 */
import { registerGradients } from "./gradients.ts";
import { registerWasmKernels } from "./wasm.ts";
import { registerCpuKernels } from "./cpu.ts";

/**
 * Installs every gradient, the cpu kernels and, when tfjs-backend-wasm is
 * loaded, the wasm kernels. Idempotent; `useBackend` calls it after loading
 * a backend.
 */
export function installKernels(): void {
  registerGradients();
  registerCpuKernels();
  registerWasmKernels();
}

installKernels();
