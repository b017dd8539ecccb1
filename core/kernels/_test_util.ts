/**
 * Helpers shared by the kernel tests: backends to run on, seeded data,
 * relative errors.
 *
 * @module
 */
import { tf } from "../tf.ts";
import { type BackendName, useBackend } from "../backend.ts";
import { Random } from "../random.ts";
import { loadBlas } from "../native/blas.ts";
import { enableNativeKernels } from "../native/kernels.ts";

/** Whether a WebGPU adapter is present (Deno 2.9 exposes navigator.gpu). */
export async function hasWebGpu(): Promise<boolean> {
  try {
    const gpu = (navigator as { gpu?: GPU }).gpu;
    return !!gpu && (await gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

/** Why the WebGPU tests are skipped, or false when they run. */
export const WEBGPU_SKIP = (await hasWebGpu())
  ? false
  : "no WebGPU adapter (navigator.gpu.requestAdapter() gave none)";

/** Whether the native kernel pack can run here (a BLAS and FFI). */
export const NATIVE_SKIP = loadBlas().available
  ? false
  : "no BLAS for the native kernel pack";

/**
 * Runs `fn` with `name` as the active backend. The native kernel pack is
 * off unless asked for, so that these tests check fisherlab's wasm kernels
 * (the pack's own tests check it, and `native: "on"` runs a case with it).
 */
export async function onBackend<T>(
  name: BackendName,
  fn: () => T | Promise<T>,
  native: "on" | "off" = "off",
): Promise<T> {
  await useBackend(name, { native: "off" });
  if (name === "wasm" && native === "on") {
    // Every product goes native, however small, so the tiny test models
    // exercise the pack rather than its fallbacks.
    const status = enableNativeKernels({ minMultiplyAdds: 0 });
    if (!status.enabled) {
      throw new Error(`Cannot enable native kernels: ${status.reason}`);
    }
  }
  try {
    return await fn();
  } finally {
    if (native === "on") await useBackend(name, { native: "off" });
  }
}

/** `n` standard normal numbers from seed `seed`. */
export function normals(n: number, seed: number, scale = 1): Float32Array {
  const rng = new Random(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal() * scale;
  return out;
}

/** A tensor of seeded standard normals on the active backend. */
export function randn(shape: number[], seed: number, scale = 1): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(normals(size, seed, scale), shape);
}

/** ||a - b|| / max(||a||, ||b||), 0 when both are zero. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) {
    throw new RangeError(
      `Cannot compare: lengths "${a.length}" and "${b.length}" differ`,
    );
  }
  let diff = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    na += a[i] ** 2;
    nb += b[i] ** 2;
  }
  const scale = Math.sqrt(Math.max(na, nb));
  return scale === 0 ? 0 : Math.sqrt(diff) / scale;
}

/** |a - b| / max(|a|, |b|), 0 when both are zero. */
export function relErrScalar(a: number, b: number): number {
  const scale = Math.max(Math.abs(a), Math.abs(b));
  return scale === 0 ? 0 : Math.abs(a - b) / scale;
}

/** The values of several tensors, concatenated. */
export async function flat(tensors: tf.Tensor[]): Promise<Float32Array> {
  const parts = await Promise.all(tensors.map((t) => t.data()));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p as Float32Array, at);
    at += p.length;
  }
  return out;
}

/** Largest relative errors seen, by check name, for the summary report. */
export const worst: Record<string, number> = {};

/** Records `err` under `check` and returns it. */
export function record(check: string, err: number): number {
  worst[check] = Math.max(worst[check] ?? 0, err);
  return err;
}
