/**
 * CIFAR-10 and CIFAR-100 (Krizhevsky, 2009), "binary version": 32x32 colour
 * images stored as records of label bytes then 3,072 pixel bytes, channel
 * planes first (R, G, B, each 32x32 row-major). fisherlab converts them to
 * NHWC [32, 32, 3] with values in [0, 1].
 *
 * @module
 */
import { join } from "node:path";
import { candidateDirs, firstDirWith, isFile } from "./_data_dirs.ts";
import { checkedLabels } from "./idx.ts";
import { createDataset } from "./create_dataset.ts";
import type { Dataset, DataSplits } from "./types.ts";

const PIXELS = 32 * 32;
const IMAGE_BYTES = 3 * PIXELS;
const SOURCE = "https://www.cs.toronto.edu/~kriz/cifar.html (the " +
  '"binary version"; unpack the .tar.gz)';

/** The class names of CIFAR-10, by label. */
export const CIFAR10_CLASSES: readonly string[] = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
];

/** The files of CIFAR-10's binary version. */
export const CIFAR10_FILES: {
  readonly train: readonly string[];
  readonly test: readonly string[];
} = {
  train: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
  test: ["test_batch.bin"],
} as const;

/** The files of CIFAR-100's binary version. */
export const CIFAR100_FILES = {
  train: ["train.bin"],
  test: ["test.bin"],
} as const;

/** Options for {@linkcode loadCifar10}. */
export interface CifarOptions {
  /**
   * The folder of the binary files. Default: the first folder named
   * `cifar-10-batches-bin` (or `cifar-100-binary`), `cifar10`, `cifar-10`
   * (or the 100 spellings) under `$FISHERLAB_DATA`, `./data`,
   * `~/.cache/fisherlab` or `/usr/share/datasets` that holds them.
   */
  dir?: string;
  /** Keep only the first `maxTrain` training examples. Default: all. */
  maxTrain?: number;
  /** Keep only the first `maxTest` test examples. Default: all. */
  maxTest?: number;
}

/** Options for {@linkcode loadCifar100}. */
export interface Cifar100Options extends CifarOptions {
  /** Which label to train on: 100 fine classes or 20 coarse. Default: fine. */
  labels?: "fine" | "coarse";
}

/** The layout of one CIFAR binary file, for {@linkcode parseCifar}. */
export interface CifarLayout {
  /** Label bytes before each image: 1 (CIFAR-10) or 2 (CIFAR-100). */
  labelBytes: 1 | 2;
  /** Which label byte to use (CIFAR-100: 0 coarse, 1 fine). Default: 0. */
  labelIndex?: number;
  /** Classes of each label byte, e.g. [20, 100] for CIFAR-100. */
  numClasses: readonly number[];
  /** Read at most this many records. Default: all. */
  max?: number;
}

/**
 * Loads CIFAR-10 (50,000 train, 10,000 test, 10 classes), NHWC [32, 32, 3]
 * in [0, 1]. Cached per process: do not modify its arrays.
 *
 * @example Load the first 5,000 training images
 * ```ts ignore
 * import { loadCifar10 } from "./cifar.ts";
 * const dir = "data/cifar-10-batches-bin";
 * const { train } = loadCifar10({ dir, maxTrain: 5000 });
 * ```
 */
export function loadCifar10(options: CifarOptions = {}): DataSplits {
  const dir = options.dir ??
    findCifar(["cifar-10-batches-bin", "cifar10", "cifar-10"], CIFAR10_FILES);
  const layout = { labelBytes: 1, numClasses: [10] } as const;
  checkFiles(dir, [...CIFAR10_FILES.train, ...CIFAR10_FILES.test]);
  return cached(["cifar10", dir, options.maxTrain, options.maxTest], () => ({
    train: readFiles(dir, CIFAR10_FILES.train, layout, {
      name: "cifar10/train",
      max: options.maxTrain,
    }),
    test: readFiles(dir, CIFAR10_FILES.test, layout, {
      name: "cifar10/test",
      max: options.maxTest,
    }),
  }));
}

/**
 * Loads CIFAR-100 (50,000 train, 10,000 test) with its 100 fine or 20
 * coarse labels, NHWC [32, 32, 3] in [0, 1]. Cached per process.
 *
 * @example Load with the 20 superclasses
 * ```ts ignore
 * import { loadCifar100 } from "./cifar.ts";
 * const { train } = loadCifar100({ labels: "coarse" });
 * ```
 */
export function loadCifar100(options: Cifar100Options = {}): DataSplits {
  const which = options.labels ?? "fine";
  if (which !== "fine" && which !== "coarse") {
    throw new RangeError(
      `Cannot load CIFAR-100 with labels "${which}": choose "fine" or ` +
        '"coarse"',
    );
  }
  const dir = options.dir ??
    findCifar(
      ["cifar-100-binary", "cifar100", "cifar-100"],
      CIFAR100_FILES,
    );
  const layout = {
    labelBytes: 2,
    labelIndex: which === "fine" ? 1 : 0,
    numClasses: [20, 100],
  } as const;
  const name = `cifar100-${which}`;
  checkFiles(dir, [...CIFAR100_FILES.train, ...CIFAR100_FILES.test]);
  return cached([name, dir, options.maxTrain, options.maxTest], () => ({
    train: readFiles(dir, CIFAR100_FILES.train, layout, {
      name: `${name}/train`,
      max: options.maxTrain,
    }),
    test: readFiles(dir, CIFAR100_FILES.test, layout, {
      name: `${name}/test`,
      max: options.maxTest,
    }),
  }));
}

/**
 * Parses the bytes of one CIFAR binary file into NHWC pixels in [0, 1] and
 * labels, checking the size and every label byte. `file` names the source
 * in errors.
 *
 * @example One CIFAR-10 record
 * ```ts
 * import { parseCifar } from "./cifar.ts";
 * const record = new Uint8Array(3073);
 * record[0] = 3;
 * const { labels, x } = parseCifar(record, "one.bin", {
 *   labelBytes: 1,
 *   numClasses: [10],
 * });
 * console.assert(labels[0] === 3 && x.length === 3072);
 * ```
 */
export function parseCifar(
  bytes: Uint8Array,
  file: string,
  layout: CifarLayout,
): { x: Float32Array; labels: Int32Array } {
  const n = checkCifar(bytes, file, layout);
  const out = {
    x: new Float32Array(n * IMAGE_BYTES),
    labels: new Int32Array(n),
  };
  decodeCifar(bytes, layout, out, 0, n);
  return out;
}

/** Checks the size and the label bytes; returns the records to read. */
function checkCifar(
  bytes: Uint8Array,
  file: string,
  layout: CifarLayout,
): number {
  const record = layout.labelBytes + IMAGE_BYTES;
  if (bytes.length === 0) {
    throw new SyntaxError(
      `Cannot read CIFAR file "${file}": it is empty; download it again`,
    );
  }
  if (bytes.length % record !== 0) {
    const whole = Math.floor(bytes.length / record);
    throw new SyntaxError(
      `Cannot read CIFAR file "${file}": ${bytes.length} bytes is not a ` +
        `whole number of ${record}-byte records (${whole} records and ` +
        `${bytes.length - whole * record} bytes); it is truncated, too ` +
        "large, or of the other CIFAR version",
    );
  }
  const n = Math.min(bytes.length / record, layout.max ?? Infinity);
  for (let k = 0; k < layout.labelBytes; k++) {
    const column = new Uint8Array(n);
    for (let i = 0; i < n; i++) column[i] = bytes[i * record + k];
    checkedLabels(column, layout.numClasses[k], {
      file,
      stride: record,
      offset: k,
    });
  }
  return n;
}

/** Decodes `n` checked records into `out` from example `at` on. */
function decodeCifar(
  bytes: Uint8Array,
  layout: CifarLayout,
  out: { x: Float32Array; labels: Int32Array },
  at: number,
  n: number,
): void {
  const record = layout.labelBytes + IMAGE_BYTES;
  const which = layout.labelIndex ?? 0;
  for (let i = 0; i < n; i++) {
    const start = i * record;
    out.labels[at + i] = bytes[start + which];
    planesToHwc(
      bytes,
      start + layout.labelBytes,
      out.x,
      (at + i) * IMAGE_BYTES,
    );
  }
}

const UNIT = new Float32Array(256).map((_, i) => i / 255);

/** Writes one CHW byte image as HWC floats in [0, 1]. */
function planesToHwc(
  src: Uint8Array,
  from: number,
  dst: Float32Array,
  to: number,
): void {
  for (let c = 0; c < 3; c++) {
    const plane = from + c * PIXELS;
    for (let p = 0; p < PIXELS; p++) dst[to + 3 * p + c] = UNIT[src[plane + p]];
  }
}

function readFiles(
  dir: string,
  files: readonly string[],
  layout: CifarLayout,
  options: { name: string; max?: number },
): Dataset {
  // Size the output from the file sizes so that 50,000 images are decoded
  // straight into one array; each file is checked exactly as it is read.
  const record = layout.labelBytes + IMAGE_BYTES;
  const paths = files.map((f) => join(dir, f));
  const total = paths.reduce(
    (sum, p) => sum + Math.floor(Deno.statSync(p).size / record),
    0,
  );
  const n = Math.min(total, options.max ?? Infinity);
  const out = {
    x: new Float32Array(n * IMAGE_BYTES),
    labels: new Int32Array(n),
  };
  let at = 0;
  for (const path of paths) {
    if (at >= n) break;
    const bytes = Deno.readFileSync(path);
    const count = checkCifar(bytes, path, { ...layout, max: n - at });
    decodeCifar(bytes, layout, out, at, count);
    at += count;
  }
  if (at < n) {
    // A file shrank after it was sized: keep what was read.
    out.x = out.x.slice(0, at * IMAGE_BYTES);
    out.labels = out.labels.slice(0, at);
  }
  const which = layout.labelIndex ?? 0;
  return createDataset(out.x, out.labels, {
    shape: [32, 32, 3],
    numClasses: layout.numClasses[which],
    name: options.name,
  });
}

function checkFiles(dir: string, files: readonly string[]): void {
  const missing = files.filter((f) => !isFile(join(dir, f)));
  if (missing.length === 0) return;
  let state = `missing ${missing.map((f) => `"${f}"`).join(", ")}`;
  try {
    if (!Deno.statSync(dir).isDirectory) state = "it is not a folder";
  } catch {
    state = "the folder does not exist";
  }
  throw new Deno.errors.NotFound(
    `Cannot load CIFAR from "${dir}": ${state}; expected ` +
      `${files.join(", ")}; get them from ${SOURCE}`,
  );
}

function findCifar(
  names: string[],
  files: { train: readonly string[]; test: readonly string[] },
): string {
  const dirs = candidateDirs(names);
  const all = [...files.train, ...files.test];
  const found = firstDirWith(dirs, (dir) => isFile(join(dir, all[0])));
  if (found === undefined) {
    throw new Deno.errors.NotFound(
      `Cannot find CIFAR: none of "${dirs.join('", "')}" holds ` +
        `${all.join(", ")}; get them from ${SOURCE}, then pass { dir } or ` +
        "set FISHERLAB_DATA",
    );
  }
  return found;
}

const cache = new Map<string, DataSplits>();

function cached(key: unknown[], load: () => DataSplits): DataSplits {
  const k = JSON.stringify(key);
  let splits = cache.get(k);
  if (splits === undefined) {
    splits = load();
    cache.set(k, splits);
  }
  return splits;
}
