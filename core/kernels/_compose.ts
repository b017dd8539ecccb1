/**
 * Composing a new kernel from the kernels a backend already has.
 *
 * A kernel function runs with the gradient tape off and sees only
 * TensorInfos, so it cannot call tf ops; it can call other kernels of the same
 * backend directly. {@linkcode KernelScope} does that and frees every
 * intermediate it made, except the one that is returned.
 *
 * @module
 */
import { tf } from "../tf.ts";

/** A tensor as kernels see it: a data id, a shape and a dtype. */
export type Info = tf.TensorInfo;

/** Attributes passed to a kernel. */
export type Attrs = Record<string, unknown>;

/** Runs kernels of one backend and frees their outputs when closed. */
export class KernelScope {
  readonly #backend: tf.KernelBackend;
  readonly #backendName: string;
  readonly #made: Info[] = [];

  constructor(backend: tf.KernelBackend, backendName: string) {
    this.#backend = backend;
    this.#backendName = backendName;
  }

  /** Runs the kernel `name` of this backend; its output is freed on close. */
  run(name: string, inputs: Record<string, Info>, attrs: Attrs = {}): Info {
    const kernel = tf.getKernel(name, this.#backendName);
    if (!kernel) {
      throw new Error(
        `Cannot compose kernel "${name}": it is not registered for ` +
          `backend "${this.#backendName}"`,
      );
    }
    const out = kernel.kernelFunc({
      inputs: inputs as tf.NamedTensorInfoMap,
      backend: this.#backend,
      attrs: attrs as tf.NamedAttrMap,
    }) as Info;
    this.#made.push(out);
    return out;
  }

  /** Takes ownership of `info`, made outside `run`: it is freed on close. */
  track(info: Info): Info {
    this.#made.push(info);
    return info;
  }

  /** Reshapes `x` (no copy on backends that share data between shapes). */
  reshape(x: Info, shape: number[]): Info {
    return this.run("Reshape", { x }, { shape });
  }

  /** Permutes the axes of `x`, skipping the kernel when `perm` is a no-op. */
  transpose(x: Info, perm: number[]): Info {
    if (perm.every((p, i) => p === i)) return x;
    return this.run("Transpose", { x }, { perm });
  }

  /**
   * Runs `body` and frees every output it made except the one it returns,
   * which the caller then owns.
   */
  static compose(
    backend: tf.KernelBackend,
    backendName: string,
    body: (scope: KernelScope) => Info,
  ): Info {
    const scope = new KernelScope(backend, backendName);
    let result: Info | undefined;
    try {
      result = body(scope);
      if (!scope.#made.includes(result)) {
        result = scope.reshape(result, result.shape);
      }
      return result;
    } finally {
      for (const info of scope.#made) {
        if (info !== result) backend.disposeData(info.dataId);
      }
    }
  }
}
