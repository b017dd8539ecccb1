/**
 * Reading and writing tensors of the tfjs wasm backend in place: each
 * float32 tensor is a range of the backend's wasm memory, at the offset its
 * `dataIdMap` entry records.
 *
 * The memory grows when the backend allocates, which replaces its buffer:
 * take views after the last allocation of a kernel, never before.
 *
 * @module
 */
import { tf } from "../tf.ts";

/** The parts of tfjs-backend-wasm's BackendWasm that native kernels use. */
export interface WasmBackend {
  wasm: { HEAPU8: Uint8Array; asm?: { memory?: WebAssembly.Memory } };
  dataIdMap: {
    get(dataId: object): { memoryOffset: number | null } | undefined;
    has(dataId: object): boolean;
  };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  disposeData(dataId: object): boolean;
  incRef(dataId: object): void;
}

/** True when `backend` looks like tfjs-backend-wasm's. */
export function isWasmBackend(backend: unknown): backend is WasmBackend {
  const b = backend as Partial<WasmBackend> | null;
  return b != null && typeof b.makeOutput === "function" &&
    b.dataIdMap != null && b.wasm?.HEAPU8 instanceof Uint8Array;
}

/** A float32 view of `tensor`'s data in the backend's current memory. */
export function heapView(
  backend: WasmBackend,
  tensor: tf.TensorInfo,
): Float32Array {
  const entry = backend.dataIdMap.get(tensor.dataId);
  if (entry?.memoryOffset == null) {
    throw new Error(
      "Cannot read a tensor in place: it has no wasm memory; " +
        "it must be a float32 tensor of the wasm backend",
    );
  }
  const size = tf.util.sizeFromShape(tensor.shape);
  return new Float32Array(backend.wasm.HEAPU8.buffer, entry.memoryOffset, size);
}

/** Float32 scratch memory outside the wasm heap, reused between calls. */
export class Scratch {
  #buffers: Float32Array[] = [];

  /**
   * A buffer of `length` floats, the `slot`-th of those in use at once; its
   * contents are undefined.
   */
  take(length: number, slot = 0): Float32Array {
    const buffer = this.#buffers[slot];
    if (buffer === undefined || buffer.length < length) {
      this.#buffers[slot] = new Float32Array(length);
    }
    return this.#buffers[slot].subarray(0, length);
  }

  /** Frees the memory. */
  release(): void {
    this.#buffers = [];
  }
}

/**
 * A float32 tensor of `shape` whose values `fill` writes. On wasm it
 * writes straight into the tensor's own memory (no array for the
 * JavaScript heap, no copy); elsewhere into a new array that is then
 * uploaded. If `fill` throws, the tensor's memory is freed. On wasm, `fill`
 * must not allocate on the backend: the memory would move under its view,
 * which is an error here.
 */
export function filledTensor(
  shape: number[],
  fill: (values: Float32Array) => void,
): tf.Tensor {
  const backend = tf.backend();
  if (!isWasmBackend(backend)) {
    const values = new Float32Array(tf.util.sizeFromShape(shape));
    fill(values);
    return tf.tensor(values, shape, "float32");
  }
  const info = backend.makeOutput(shape, "float32");
  try {
    const view = heapView(backend, info);
    fill(view);
    if (view.byteLength === 0 && tf.util.sizeFromShape(shape) > 0) {
      throw new Error(
        "Cannot fill a tensor in place: the wasm memory moved while its " +
          "values were written; the code that writes them must not call " +
          "TensorFlow.js",
      );
    }
  } catch (error) {
    backend.disposeData(info.dataId);
    throw error;
  }
  return tf.engine().makeTensorFromTensorInfo(info);
}
