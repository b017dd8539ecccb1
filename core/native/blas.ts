/**
 * The system BLAS through Deno's FFI: single-precision matrix products
 * (sgemm) at the speed of OpenBLAS or Accelerate instead of wasm's.
 *
 * Loading needs the FFI permission (`--allow-ffi`, included in `-A`). When
 * no library is found, or the permission is missing, {@linkcode loadBlas}
 * says so in its result instead of throwing.
 *
 * @module
 */

/** Row-major single-precision C = alpha op(A) op(B) + beta C. */
export interface SgemmArgs {
  /** Rows of op(A) and of C. */
  m: number;
  /** Columns of op(B) and of C. */
  n: number;
  /** Columns of op(A), rows of op(B). */
  k: number;
  /** A, stored row-major; op(A) = A^T when `transA`. */
  a: Float32Array;
  /** B, stored row-major; op(B) = B^T when `transB`. */
  b: Float32Array;
  /** C, stored row-major, overwritten. */
  c: Float32Array;
  /** Use A^T. Default false. */
  transA?: boolean;
  /** Use B^T. Default false. */
  transB?: boolean;
  /** Leading dimension of A. Default: its row length (k, or m if transA). */
  lda?: number;
  /** Leading dimension of B. Default: its row length (n, or k if transB). */
  ldb?: number;
  /** Leading dimension of C. Default n. */
  ldc?: number;
  /** Scale of the product. Default 1. */
  alpha?: number;
  /** Scale of C's old value; 0 (the default) ignores it. */
  beta?: number;
}

/**
 * Row-major single-precision y = alpha op(A) x + beta y, where A is m x n
 * and op(A) = A^T when `trans`.
 */
export interface SgemvArgs {
  /** Rows of A. */
  m: number;
  /** Columns of A. */
  n: number;
  /** A, stored row-major. */
  a: Float32Array;
  /** The vector x: n long, or m long if `trans`. */
  x: Float32Array;
  /** The vector y, overwritten: m long, or n long if `trans`. */
  y: Float32Array;
  /** Use A^T. Default false. */
  trans?: boolean;
  /** Leading dimension of A. Default n. */
  lda?: number;
  /** Scale of the product. Default 1. */
  alpha?: number;
  /** Scale of y's old value; 0 (the default) ignores it. */
  beta?: number;
}

/** A loaded BLAS library. */
export interface Blas {
  /** The file that was opened. */
  path: string;
  /** The library's description of its build, when it gives one. */
  config: string;
  /** C = alpha op(A) op(B) + beta C, in place, synchronously. */
  sgemm(args: SgemmArgs): void;
  /** y = alpha op(A) x + beta y, in place, synchronously. */
  sgemv(args: SgemvArgs): void;
  /** The number of threads the library uses, when it can say. */
  threads(): number | undefined;
  /** Sets the number of threads, when the library allows it. */
  setThreads(count: number): void;
  /** Closes the library; the object must not be used afterwards. */
  close(): void;
}

/** The outcome of {@linkcode loadBlas}: a library, or why there is none. */
export type BlasResult =
  | { available: true; blas: Blas }
  | { available: false; reason: string };

/** Options for {@linkcode loadBlas}. */
export interface LoadBlasOptions {
  /**
   * Files to try, in order. Default: the `FISHERLAB_BLAS` environment
   * variable if set, then the usual OpenBLAS locations (Debian, Fedora,
   * Homebrew) and Apple's Accelerate.
   */
  paths?: string[];
}

const ROW_MAJOR = 101;
const NO_TRANS = 111;
const TRANS = 112;

const SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "buffer",
      "i32",
    ],
    result: "void",
  },
  cblas_sgemv: {
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "buffer",
      "i32",
    ],
    result: "void",
  },
  openblas_get_num_threads: {
    parameters: [],
    result: "i32",
    optional: true,
  },
  openblas_set_num_threads: {
    parameters: ["i32"],
    result: "void",
    optional: true,
  },
  openblas_get_config: { parameters: [], result: "pointer", optional: true },
} as const;

/** The files {@linkcode loadBlas} tries when given none. */
export function defaultBlasPaths(): string[] {
  const fromEnv = envPath();
  const os = Deno.build.os;
  const arch = Deno.build.arch === "aarch64" ? "aarch64" : "x86_64";
  const debian = `/usr/lib/${arch}-linux-gnu`;
  const linux = [
    `${debian}/openblas-pthread/libopenblas.so.0`,
    `${debian}/libopenblas.so.0`,
    `${debian}/openblas-openmp/libopenblas.so.0`,
    "/usr/lib64/libopenblas.so.0",
    "/usr/lib64/libopenblasp.so.0",
    "/usr/lib/libopenblas.so.0",
    "/usr/local/lib/libopenblas.so.0",
    "libopenblas.so.0",
  ];
  const darwin = [
    "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
    "/usr/local/opt/openblas/lib/libopenblas.dylib",
    "/System/Library/Frameworks/Accelerate.framework/Accelerate",
  ];
  const windows = ["libopenblas.dll", "openblas.dll"];
  const system = os === "darwin" ? darwin : os === "windows" ? windows : linux;
  return fromEnv ? [fromEnv, ...system] : system;
}

function envPath(): string | undefined {
  try {
    const state = Deno.permissions.querySync({
      name: "env",
      variable: "FISHERLAB_BLAS",
    }).state;
    return state === "granted" ? Deno.env.get("FISHERLAB_BLAS") : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Opens the first BLAS library found that exports `cblas_sgemm`.
 *
 * @example Multiply two 2x2 matrices
 * ```ts
 * import { loadBlas } from "./blas.ts";
 * const found = loadBlas();
 * if (found.available) {
 *   const c = new Float32Array(4);
 *   found.blas.sgemm({
 *     m: 2, n: 2, k: 2,
 *     a: new Float32Array([1, 2, 3, 4]),
 *     b: new Float32Array([1, 0, 0, 1]),
 *     c,
 *   });
 *   console.assert(c[3] === 4);
 * }
 * ```
 */
export function loadBlas(options: LoadBlasOptions = {}): BlasResult {
  const ffi = Deno.permissions.querySync({ name: "ffi" }).state;
  if (ffi !== "granted") {
    return {
      available: false,
      reason: "Cannot load a BLAS: FFI is not permitted; run Deno with " +
        "--allow-ffi (included in -A)",
    };
  }
  const paths = options.paths ?? defaultBlasPaths();
  const failures: string[] = [];
  for (const path of paths) {
    try {
      const lib = Deno.dlopen(path, SYMBOLS);
      return { available: true, blas: wrap(path, lib) };
    } catch (error) {
      failures.push(`"${path}" (${firstLine(error)})`);
    }
  }
  return {
    available: false,
    reason: "Cannot load a BLAS: none of the candidates opened: " +
      failures.join("; ") +
      "; install OpenBLAS (Debian: apt-get install libopenblas0-pthread) " +
      "or set FISHERLAB_BLAS to a library exporting cblas_sgemm",
  };
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split("\n")[0];
}

type Library = Deno.DynamicLibrary<typeof SYMBOLS>;

function wrap(path: string, lib: Library): Blas {
  const s = lib.symbols;
  return {
    path,
    config: readConfig(lib),
    sgemm: (args) => {
      const transA = args.transA ?? false;
      const transB = args.transB ?? false;
      const lda = args.lda ?? (transA ? args.m : args.k);
      const ldb = args.ldb ?? (transB ? args.k : args.n);
      s.cblas_sgemm(
        ROW_MAJOR,
        transA ? TRANS : NO_TRANS,
        transB ? TRANS : NO_TRANS,
        args.m,
        args.n,
        args.k,
        args.alpha ?? 1,
        args.a,
        lda,
        args.b,
        ldb,
        args.beta ?? 0,
        args.c,
        args.ldc ?? args.n,
      );
    },
    sgemv: (args) =>
      s.cblas_sgemv(
        ROW_MAJOR,
        args.trans ? TRANS : NO_TRANS,
        args.m,
        args.n,
        args.alpha ?? 1,
        args.a,
        args.lda ?? args.n,
        args.x,
        1,
        args.beta ?? 0,
        args.y,
        1,
      ),
    threads: () => s.openblas_get_num_threads?.() ?? undefined,
    setThreads: (count) => s.openblas_set_num_threads?.(count),
    close: () => lib.close(),
  };
}

function readConfig(lib: Library): string {
  const pointer = lib.symbols.openblas_get_config?.();
  if (!pointer) return "";
  return new Deno.UnsafePointerView(pointer).getCString();
}
