/**
 * Small kernels that loop on the host: reading an input's values and
 * making an output from values, the same way on the cpu and wasm backends.
 *
 * @module
 */
import type { tf } from "../tf.ts";
import { isWasmBackend } from "../native/_wasm_heap.ts";

interface HostBackend {
  readSync(dataId: object): tf.TypedArray;
}

/** The values of `t` (a copy on wasm, the backend's own array on cpu). */
export function readHost(backend: unknown, t: tf.TensorInfo): tf.TypedArray {
  return (backend as HostBackend).readSync(t.dataId);
}

/** A float32 output of `backend` holding `values`. */
export function hostOutput(
  backend: unknown,
  shape: number[],
  values: Float32Array,
): tf.TensorInfo {
  if (isWasmBackend(backend)) {
    const b = backend as unknown as {
      makeOutput(
        s: number[],
        d: tf.DataType,
        offset: undefined,
        v: Float32Array,
      ): tf.TensorInfo;
    };
    return b.makeOutput(shape, "float32", undefined, values);
  }
  const cpu = backend as {
    makeTensorInfo(s: number[], d: tf.DataType, v: Float32Array): tf.TensorInfo;
  };
  return cpu.makeTensorInfo(shape, "float32", values);
}
