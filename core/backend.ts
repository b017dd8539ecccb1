/**
 * Compute backends: one option chooses where tensors live.
 *
 * - `wasm` (default): XNNPACK kernels, SIMD; fisherlab adds the kernels it
 *   lacks for training conv nets.
 * - `cpu`: plain JavaScript kernels; slow, but the reference.
 * - `webgpu`: Deno's WebGPU (a real GPU where present, else a software
 *   adapter).
 * - `tensorflow`: tfjs-node or tfjs-node-gpu, loaded only when chosen.
 *
 * @module
 */
import { tf } from "./tf.ts";
import { installKernels } from "./kernels/install.ts";
import {
  disableNativeKernels,
  enableNativeKernels,
  type NativeKernelsStatus,
  nativeKernelsStatus,
} from "./native/kernels.ts";

/** The names accepted by {@linkcode useBackend}. */
export type BackendName = "wasm" | "cpu" | "webgpu" | "tensorflow";

/** Every backend fisherlab knows, in order of preference. */
export const BACKENDS: readonly BackendName[] = [
  "wasm",
  "cpu",
  "webgpu",
  "tensorflow",
];

const loaders: Record<BackendName, () => Promise<void>> = {
  wasm: async () => {
    await import("@tensorflow/tfjs-backend-wasm");
  },
  cpu: async () => {
    await import("@tensorflow/tfjs-backend-cpu");
  },
  webgpu: async () => {
    if (!("gpu" in navigator) || !navigator.gpu) {
      throw new Error(
        'Cannot use backend "webgpu": this Deno has no navigator.gpu; ' +
          'run with --unstable-webgpu or choose "wasm"',
      );
    }
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) {
      throw new Error(
        'Cannot use backend "webgpu": no WebGPU adapter was found; ' +
          'choose "wasm" or "cpu"',
      );
    }
    await import("@tensorflow/tfjs-backend-webgpu");
  },
  tensorflow: async () => {
    for (const name of TFJS_NODE) {
      try {
        await importOptional(name);
        return;
      } catch {
        // not installed: try the next one
      }
    }
    throw new Error(
      'Cannot use backend "tensorflow": neither @tensorflow/tfjs-node nor ' +
        "@tensorflow/tfjs-node-gpu is installed; add one with " +
        '"deno add npm:@tensorflow/tfjs-node" and let its libtensorflow ' +
        'download run with "deno install ' +
        '--allow-scripts=npm:@tensorflow/tfjs-node", or choose "wasm"',
    );
  },
};

/** The packages that provide the "tensorflow" backend, preferred first. */
const TFJS_NODE = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"];

/**
 * Imports a package only if the project's import map names it. The specifier
 * is not a literal, so Deno neither analyses nor downloads it ahead of time.
 */
function importOptional(specifier: string): Promise<unknown> {
  return import(specifier);
}

const setups: ((name: BackendName) => void)[] = [];

/**
 * Registers a function that runs each time a backend is made active: the
 * kernel packs use it to add what a backend lacks.
 */
export function onBackendReady(setup: (name: BackendName) => void): void {
  setups.push(setup);
}

/** Options for {@linkcode useBackend}. */
export interface UseBackendOptions {
  /**
   * The native kernel pack (matrix products, convolutions and the heavier
   * elementwise kernels through oneDNN or a BLAS, with Deno's FFI) for the
   * wasm backend. "auto" (default): on when oneDNN or a BLAS is found and
   * FFI is allowed, else off with the reason in the result. "on":
   * fail when it cannot be enabled. "off": the wasm kernels alone.
   */
  native?: "auto" | "on" | "off";
}

/** What {@linkcode useBackend} set up. */
export interface BackendInfo {
  /** The active backend. */
  name: BackendName;
  /** The native kernel pack's state (wasm only; off elsewhere). */
  native: NativeKernelsStatus;
}

/**
 * Makes `name` the active TensorFlow.js backend, loading it on first use.
 *
 * @example Use the default backend
 * ```ts
 * import { useBackend } from "./backend.ts";
 * await useBackend("wasm");
 * ```
 */
export async function useBackend(
  name: BackendName = "wasm",
  options: UseBackendOptions = {},
): Promise<BackendInfo> {
  const native = options.native ?? "auto";
  if (!["auto", "on", "off"].includes(native)) {
    throw new RangeError(
      `Cannot use backend "${name}": native is "${native}"; choose "auto", ` +
        '"on" or "off"',
    );
  }
  if (!BACKENDS.includes(name)) {
    throw new RangeError(
      `Cannot use backend "${name}": it is unknown; choose one of ` +
        BACKENDS.map((b) => `"${b}"`).join(", "),
    );
  }
  await loaders[name]();
  const registered = name === "tensorflow" ? "tensorflow" : name;
  const ok = await tf.setBackend(registered);
  if (!ok) {
    throw new Error(`Cannot use backend "${name}": it failed to initialize`);
  }
  await tf.ready();
  installKernels();
  for (const setup of setups) setup(name);
  return { name, native: setUpNative(name, native) };
}

function setUpNative(
  name: BackendName,
  mode: "auto" | "on" | "off",
): NativeKernelsStatus {
  if (name !== "wasm" || mode === "off") {
    if (name === "wasm") disableNativeKernels();
    return { ...nativeKernelsStatus(), enabled: false };
  }
  const status = nativeKernelsStatus().enabled
    ? nativeKernelsStatus()
    : enableNativeKernels();
  if (mode === "on" && !status.enabled) {
    throw new Error(
      `Cannot enable native kernels: ${status.reason ?? "unknown reason"}; ` +
        "install oneDNN or OpenBLAS (Debian: libdnnl2, libopenblas0-pthread) " +
        'or pass native: "off"',
    );
  }
  return status;
}

/** The name of the active backend. */
export function activeBackend(): string {
  return tf.getBackend();
}
