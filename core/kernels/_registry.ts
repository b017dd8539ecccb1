/**
 * Replacing a backend's kernels while keeping the ones replaced: fisherlab's
 * kernels are marked, and the stock kernel each replaces stays reachable
 * (tests compare against it; wrappers fall back to it).
 *
 * @module
 */
import { tf } from "../tf.ts";

const MARK = Symbol.for("fisherlab.kernel");

/** A kernel config fisherlab registered. */
export type Marked = tf.KernelConfig & { [MARK]?: true };

const stock = new Map<string, tf.KernelConfig>();

/** Marks `config` as fisherlab's. */
export function mark(config: tf.KernelConfig): Marked {
  return { ...config, [MARK]: true };
}

/** Whether the registered kernel `name` of `backend` is fisherlab's. */
export function isOurs(name: string, backend: string): boolean {
  return !!(tf.getKernel(name, backend) as Marked | undefined)?.[MARK];
}

/**
 * Registers `config` in place of the current kernel of its name and
 * backend, which is kept as the stock kernel. Does nothing if fisherlab's
 * kernel is already there.
 */
export function replaceKernel(config: Marked): void {
  const { kernelName, backendName } = config;
  const current = tf.getKernel(kernelName, backendName) as Marked | undefined;
  if (current?.[MARK]) return;
  if (current) {
    stock.set(`${backendName}/${kernelName}`, current);
    tf.unregisterKernel(kernelName, backendName);
  }
  tf.registerKernel(config);
}

/** The kernel fisherlab replaced, if any: tfjs's own. */
export function stockKernel(
  name: string,
  backend: string,
): tf.KernelConfig | undefined {
  return stock.get(`${backend}/${name}`);
}

/**
 * Runs `fn` with the stock kernels `names` of `backend` registered in place
 * of fisherlab's, then puts fisherlab's back. For tests.
 */
export async function withStockKernels<T>(
  backend: string,
  names: string[],
  fn: () => T | Promise<T>,
): Promise<T> {
  const ours = names.map((n) => tf.getKernel(n, backend));
  names.forEach((n) => {
    const original = stockKernel(n, backend);
    if (!original) {
      throw new Error(
        `Cannot restore kernel "${n}" of "${backend}": fisherlab did not ` +
          "replace it",
      );
    }
    tf.unregisterKernel(n, backend);
    tf.registerKernel(original);
  });
  try {
    return await fn();
  } finally {
    names.forEach((n, i) => {
      tf.unregisterKernel(n, backend);
      tf.registerKernel(ours[i]);
    });
  }
}

interface EngineState {
  state: { gradientDepth: number };
}

/**
 * How many gradient computations are recording now (tfjs's engine state):
 * 0 in a plain forward pass and in the backward pass of an outermost
 * gradient, where nothing records what a kernel does, so a kernel without
 * a gradient of its own may run there.
 */
export function gradientDepth(): number {
  return (tf.engine() as unknown as EngineState).state.gradientDepth;
}
