/**
 * Installs fisherlab's gradients and wasm kernels; importing this module
 * installs them once.
 *
 * @module
 */
import { registerGradients } from "./gradients.ts";
import { registerWasmKernels } from "./wasm.ts";

/**
 * Installs every gradient and, when tfjs-backend-wasm is loaded, every wasm
 * kernel. Idempotent; `useBackend` calls it after loading a backend.
 */
export function installKernels(): void {
  registerGradients();
  registerWasmKernels();
}

installKernels();
