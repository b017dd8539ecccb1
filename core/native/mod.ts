/**
 * Native kernels: the system BLAS through Deno's FFI, and the tfjs wasm
 * kernels (matrix products, 2-D convolutions) that run on it.
 *
 * @module
 */
export {
  type Blas,
  type BlasResult,
  defaultBlasPaths,
  loadBlas,
  type LoadBlasOptions,
  type SgemmArgs,
} from "./blas.ts";
export {
  disableNativeKernels,
  enableNativeKernels,
  type KernelCalls,
  NATIVE_KERNELS,
  type NativeKernelName,
  type NativeKernelOptions,
  type NativeKernelsStatus,
  nativeKernelsStatus,
  productLibrary,
} from "./kernels.ts";
