/**
 * Fashion-MNIST (Xiao et al., 2017): MNIST's format and sizes with images
 * of clothing, 10 classes. Read from IDX files, raw or gzip-compressed.
 *
 * @module
 */
import { join } from "node:path";
import { candidateDirs, firstDirWith, isFile } from "./_data_dirs.ts";
import { IDX_FILES, loadIdxFolder } from "./idx.ts";
import type { DataSplits } from "./types.ts";

/** The class names of Fashion-MNIST, by label. */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
];

/** Options for {@linkcode loadFashionMnist}. */
export interface FashionMnistOptions {
  /**
   * The folder of the four IDX files. Default: the first of
   * `$FISHERLAB_DATA/fashion-mnist`, `./data/fashion-mnist`,
   * `~/.cache/fisherlab/fashion-mnist` and
   * `/usr/share/datasets/fashion-mnist` (Debian's dataset-fashion-mnist)
   * that holds them.
   */
  dir?: string;
  /** Keep only the first `maxTrain` training examples. Default: 60,000. */
  maxTrain?: number;
  /** Keep only the first `maxTest` test examples. Default: 10,000. */
  maxTest?: number;
}

const SOURCE = "https://github.com/zalandoresearch/fashion-mnist (data/" +
  "fashion), or on Debian: apt-get install dataset-fashion-mnist";

const cache = new Map<string, DataSplits>();

/**
 * Loads Fashion-MNIST with pixels in [0, 1] and shape [28, 28, 1]. Cached
 * per process and shared between callers: do not modify its arrays.
 *
 * @example Load it where Debian installs it
 * ```ts ignore
 * import { loadFashionMnist } from "./fashion_mnist.ts";
 * const { train } = loadFashionMnist();
 * ```
 */
export function loadFashionMnist(
  options: FashionMnistOptions = {},
): DataSplits {
  const dir = options.dir ?? findFashionMnist();
  const key = JSON.stringify([dir, options.maxTrain, options.maxTest]);
  let splits = cache.get(key);
  if (splits === undefined) {
    splits = loadIdxFolder(dir, {
      name: "fashion-mnist",
      numClasses: 10,
      maxTrain: options.maxTrain,
      maxTest: options.maxTest,
      source: SOURCE,
    });
    cache.set(key, splits);
  }
  return splits;
}

function findFashionMnist(): string {
  const dirs = candidateDirs(["fashion-mnist", "fashion_mnist"]);
  const base = IDX_FILES.trainImages;
  const found = firstDirWith(
    dirs,
    (dir) => isFile(join(dir, base)) || isFile(join(dir, `${base}.gz`)),
  );
  if (found === undefined) {
    throw new Deno.errors.NotFound(
      `Cannot find Fashion-MNIST: none of "${dirs.join('", "')}" holds ` +
        `${Object.values(IDX_FILES).join(", ")} (raw or .gz); get them ` +
        `from ${SOURCE}, or pass { dir }`,
    );
  }
  return found;
}
