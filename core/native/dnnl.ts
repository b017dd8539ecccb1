/**
 * 2-D convolutions through oneDNN (libdnnl, version 2), called with Deno's
 * FFI: the forward pass and both gradients of an NHWC convolution with an
 * HWIO filter, on float32 arrays (the wasm backend's memory included).
 *
 * oneDNN computes them with direct, vectorized kernels; the BLAS path of
 * the native pack lowers them to im2col and one sgemm, which writes a copy
 * of the input per filter tap and runs slowly when a layer has few
 * channels (on a ResNet's 16-channel layers, a tenth of the speed). It is
 * the library Debian's PyTorch computes its convolutions with
 * (`apt-get install libdnnl2`).
 *
 * Activations stay in fisherlab's NHWC layout; only the filter is
 * reordered to the layout oneDNN picks for it, each call (filters are
 * small). Primitives are built once per geometry and kept.
 *
 * @module
 */
import { type ConvGeometry, geometryKey } from "./_im2col.ts";
import type { Blas, SgemmArgs, SgemvArgs } from "./blas.ts";

const SYMBOLS = {
  dnnl_version: { parameters: [], result: "pointer" },
  dnnl_engine_create: { parameters: ["buffer", "i32", "usize"], result: "i32" },
  dnnl_engine_destroy: { parameters: ["pointer"], result: "i32" },
  dnnl_stream_create: {
    parameters: ["buffer", "pointer", "u32"],
    result: "i32",
  },
  dnnl_stream_wait: { parameters: ["pointer"], result: "i32" },
  dnnl_memory_desc_init_by_strides: {
    parameters: ["buffer", "i32", "buffer", "i32", "buffer"],
    result: "i32",
  },
  dnnl_memory_desc_init_by_tag: {
    parameters: ["buffer", "i32", "buffer", "i32", "i32"],
    result: "i32",
  },
  dnnl_convolution_forward_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "i32",
      "buffer",
      "buffer",
      "pointer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_convolution_backward_data_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_convolution_backward_weights_desc_init: {
    parameters: [
      "buffer",
      "i32",
      "buffer",
      "buffer",
      "pointer",
      "buffer",
      "buffer",
      "buffer",
      "buffer",
    ],
    result: "i32",
  },
  dnnl_binary_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "buffer"],
    result: "i32",
  },
  dnnl_batch_normalization_forward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "f32", "u32"],
    result: "i32",
  },
  dnnl_batch_normalization_backward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "f32", "u32"],
    result: "i32",
  },
  dnnl_primitive_desc_create: {
    parameters: ["buffer", "buffer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_primitive_create: { parameters: ["buffer", "pointer"], result: "i32" },
  dnnl_primitive_desc_query_md: {
    parameters: ["pointer", "i32", "i32"],
    result: "pointer",
  },
  dnnl_reorder_primitive_desc_create: {
    parameters: [
      "buffer",
      "pointer",
      "pointer",
      "pointer",
      "pointer",
      "pointer",
    ],
    result: "i32",
  },
  dnnl_memory_desc_get_size: { parameters: ["pointer"], result: "usize" },
  dnnl_memory_create: {
    parameters: ["buffer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_memory_set_data_handle: {
    parameters: ["pointer", "pointer"],
    result: "i32",
  },
  dnnl_primitive_execute: {
    parameters: ["pointer", "pointer", "i32", "buffer"],
    result: "i32",
  },
  dnnl_sgemm: {
    parameters: [
      "u8",
      "u8",
      "i64",
      "i64",
      "i64",
      "f32",
      "buffer",
      "i64",
      "buffer",
      "i64",
      "f32",
      "buffer",
      "i64",
    ],
    result: "i32",
  },
} as const;

type Library = Deno.DynamicLibrary<typeof SYMBOLS>;
type Pointer = Deno.PointerValue;

// Values and sizes from oneDNN 2.x's dnnl_types.h.
const MEMORY_DESC_BYTES = 696;
const OP_DESC_BYTES = 5976;
const F32 = 3;
const CPU = 1;
const IN_ORDER = 1;
const TAG_ANY = 1;
const FORWARD_TRAINING = 64;
const FORWARD_INFERENCE = 96;
const BACKWARD = 128;
const BINARY = { add: 0x1fff0, mul: 0x1fff1, div: 0x1fff4, sub: 0x1fff5 };
// Batch-norm flags: given mean and variance, a scale and a shift.
const USE_GLOBAL_STATS = 0x1;
const USE_SCALE = 0x8;
const USE_SHIFT = 0x10;
const CONVOLUTION_DIRECT = 1;
// dnnl_sgemm's transpose flags are the characters "N" and "T".
const NOT_TRANSPOSED = 0x4e;
const TRANSPOSED = 0x54;
const ARG = {
  src: 1,
  dst: 17,
  weights: 33,
  bias: 41,
  diffSrc: 129,
  diffDst: 145,
  diffWeights: 161,
  src1: 2,
  mean: 49,
  variance: 50,
  scale: 51,
  shift: 52,
  from: 1,
  to: 17,
  diffScale: 255,
  diffShift: 256,
} as const;
const QUERY = { weightsMd: 131, diffWeightsMd: 132 } as const;

/** A loaded oneDNN. */
export interface Dnnl {
  /** The file that was opened and its version, e.g. "2.6.3". */
  path: string;
  version: string;
  /**
   * y = conv(x, w) (+ bias), NHWC input and output, HWIO filter; false
   * when oneDNN has no primitive for this geometry.
   */
  forward(
    g: ConvGeometry,
    x: Float32Array,
    w: Float32Array,
    y: Float32Array,
    bias?: Float32Array,
  ): boolean;
  /** dx of the convolution from dy and w; false as for `forward`. */
  backwardData(
    g: ConvGeometry,
    dy: Float32Array,
    w: Float32Array,
    dx: Float32Array,
  ): boolean;
  /** dW (HWIO) of the convolution from x and dy; false as for `forward`. */
  backwardWeights(
    g: ConvGeometry,
    x: Float32Array,
    dy: Float32Array,
    dw: Float32Array,
  ): boolean;
  /**
   * out = a (op) b elementwise on `rows` x `cols` row-major arrays, b being
   * of that shape ("same"), one row repeated down ("row"), or one number
   * ("scalar"); false when oneDNN has no primitive for it. Rows are split
   * between threads and columns vectorized: callers keep `cols` a multiple
   * of 8 and reasonably wide (a row of 16 runs at a third of the speed of
   * a row of 256).
   */
  binary(
    op: BinaryOp,
    rows: number,
    cols: number,
    b: "same" | "row" | "scalar",
    aData: Float32Array,
    bData: Float32Array,
    out: Float32Array,
  ): boolean;
  /**
   * y = (x - mean) / sqrt(variance + epsilon) * scale + offset per channel,
   * x and y NHWC of `shape`, the rest one number per channel; false as
   * for `binary`.
   */
  batchNorm(
    shape: [number, number, number, number],
    epsilon: number,
    x: Float32Array,
    stats: BatchNormStats,
    y: Float32Array,
  ): boolean;
  /**
   * Batch normalization with the batch's own statistics (training): y as
   * for `batchNorm`, with the mean and the biased variance (divided by the
   * count) of each channel over every other axis written to `stats`;
   * false when oneDNN has no primitive for it.
   */
  batchNormTraining(
    shape: [number, number, number, number],
    epsilon: number,
    x: Float32Array,
    stats: BatchNormStats,
    y: Float32Array,
  ): boolean;
  /**
   * The gradient of `batchNormTraining` at x, given dy and the statistics
   * it wrote: dx (through the statistics too) and the gradients of the
   * scale and offset, written to `grads`; false as above.
   */
  batchNormBackward(
    shape: [number, number, number, number],
    epsilon: number,
    x: Float32Array,
    stats: BatchNormStats,
    dy: Float32Array,
    grads: BatchNormGrads,
  ): boolean;
  /**
   * Row-major C = alpha op(A) op(B) + beta C through oneDNN's own sgemm,
   * on the OpenMP threads its other primitives use.
   */
  sgemm(args: SgemmArgs): void;
  /**
   * Forgets the primitives built so far. The library itself stays loaded
   * for the life of the process: unloading oneDNN while its OpenMP
   * threads live crashes the process.
   */
  close(): void;
}

/** The elementwise operations of {@linkcode Dnnl.binary}. */
export type BinaryOp = keyof typeof BINARY;

/** Per-channel arrays of {@linkcode Dnnl.batchNorm}. */
export interface BatchNormStats {
  mean: Float32Array;
  variance: Float32Array;
  scale: Float32Array;
  offset: Float32Array;
}

/** What {@linkcode Dnnl.batchNormBackward} writes. */
export interface BatchNormGrads {
  dx: Float32Array;
  dScale: Float32Array;
  dOffset: Float32Array;
}

/** The outcome of {@linkcode loadDnnl}: a library, or why there is none. */
export type DnnlResult =
  | { available: true; dnnl: Dnnl }
  | { available: false; reason: string };

/** The library, opened once per process (see {@linkcode Dnnl.close}). */
let opened: DnnlResult | undefined;

/**
 * Opens oneDNN, once per process: the `FISHERLAB_DNNL` environment
 * variable if set, then libdnnl.so.2 (Linux) and libdnnl.2.dylib (macOS).
 * Only version 2 is used: the FFI signatures and struct sizes here are
 * that version's.
 *
 * @example
 * ```ts
 * import { loadDnnl } from "./dnnl.ts";
 * const found = loadDnnl();
 * console.assert(found.available || found.reason.length > 0);
 * if (found.available) found.dnnl.close();
 * ```
 */
export function loadDnnl(): DnnlResult {
  opened ??= open();
  return opened;
}

function open(): DnnlResult {
  const ffi = Deno.permissions.querySync({ name: "ffi" }).state;
  if (ffi !== "granted") {
    return {
      available: false,
      reason: "Cannot load oneDNN: FFI is not permitted; run Deno with " +
        "--allow-ffi (included in -A)",
    };
  }
  const env = Deno.permissions.querySync({
      name: "env",
      variable: "FISHERLAB_DNNL",
    }).state === "granted"
    ? Deno.env.get("FISHERLAB_DNNL")
    : undefined;
  const paths = env ? [env] : ["libdnnl.so.2", "libdnnl.2.dylib"];
  const failures: string[] = [];
  for (const path of paths) {
    let lib: Library;
    try {
      pin(path);
      lib = Deno.dlopen(path, SYMBOLS);
    } catch (error) {
      const text = error instanceof Error ? error.message : String(error);
      failures.push(`"${path}" (${text.split("\n")[0]})`);
      continue;
    }
    const version = readVersion(lib);
    if (!version.startsWith("2.")) {
      lib.close();
      failures.push(`"${path}" (version ${version}, not 2.x)`);
      continue;
    }
    try {
      return { available: true, dnnl: new DnnlLibrary(path, version, lib) };
    } catch (error) {
      lib.close();
      failures.push(`"${path}" (${(error as Error).message})`);
    }
  }
  return {
    available: false,
    reason: "Cannot load oneDNN: " + failures.join("; ") +
      "; install it (Debian: apt-get install libdnnl2) or set " +
      "FISHERLAB_DNNL to libdnnl's path",
  };
}

/**
 * Marks the library as never to be unloaded (dlopen with RTLD_NODELETE, on
 * Linux through libc). Deno closes its handles when a worker or the
 * process ends, and unmapping oneDNN, with the OpenMP runtime it pulls in,
 * under its live worker threads crashed the process on exit.
 */
function pin(path: string): void {
  if (Deno.build.os !== "linux") return;
  const RTLD_LAZY = 0x1;
  const RTLD_NODELETE = 0x1000;
  let libc: Deno.DynamicLibrary<{
    dlopen: { parameters: ["buffer", "i32"]; result: "pointer" };
  }>;
  try {
    libc = Deno.dlopen("libc.so.6", {
      dlopen: { parameters: ["buffer", "i32"], result: "pointer" },
    });
  } catch {
    return;
  }
  const name = new TextEncoder().encode(path + "\0");
  libc.symbols.dlopen(name, RTLD_LAZY | RTLD_NODELETE);
  libc.close();
}

function readVersion(lib: Library): string {
  const p = lib.symbols.dnnl_version();
  if (!p) return "unknown";
  // struct { int major, minor, patch; const char *hash; ... }
  const view = new Deno.UnsafePointerView(p);
  return `${view.getInt32(0)}.${view.getInt32(4)}.${view.getInt32(8)}`;
}

/** A primitive with the filter layout it wants. */
interface Conv {
  primitive: Pointer;
  /** Reorders HWIO to the primitive's filter layout, or back. */
  reorder: Pointer;
  /** The filter in the primitive's layout. */
  filter: Float32Array;
  memories: Record<"a" | "b" | "c" | "user" | "inner", Pointer>;
}

/** A primitive without a reorder, and a memory per argument. */
interface Simple {
  primitive: Pointer;
  memories: Record<number, Pointer>;
}

class DnnlLibrary implements Dnnl {
  readonly path: string;
  readonly version: string;
  #lib: Library;
  #engine: Pointer;
  #stream: Pointer;
  #convs = new Map<string, Conv | null>();
  #forwardHints = new Map<string, Pointer>();
  #others = new Map<string, Simple | null>();

  constructor(path: string, version: string, lib: Library) {
    this.path = path;
    this.version = version;
    this.#lib = lib;
    const s = lib.symbols;
    const engine = new BigUint64Array(1);
    check(s.dnnl_engine_create(engine, CPU, 0n), "create an engine");
    this.#engine = Deno.UnsafePointer.create(engine[0]);
    const stream = new BigUint64Array(1);
    check(
      s.dnnl_stream_create(stream, this.#engine, IN_ORDER),
      "create a stream",
    );
    this.#stream = Deno.UnsafePointer.create(stream[0]);
  }

  forward(
    g: ConvGeometry,
    x: Float32Array,
    w: Float32Array,
    y: Float32Array,
    bias?: Float32Array,
  ): boolean {
    const conv = this.#conv("forward", g, !!bias);
    if (!conv) return false;
    this.#run(conv.reorder, [[ARG.from, conv.memories.user, w], [
      ARG.to,
      conv.memories.inner,
      conv.filter,
    ]]);
    const args: [number, Pointer, Float32Array][] = [
      [ARG.src, conv.memories.a, x],
      [ARG.weights, conv.memories.inner, conv.filter],
      [ARG.dst, conv.memories.c, y],
    ];
    if (bias) args.push([ARG.bias, conv.memories.b, bias]);
    this.#run(conv.primitive, args);
    return true;
  }

  backwardData(
    g: ConvGeometry,
    dy: Float32Array,
    w: Float32Array,
    dx: Float32Array,
  ): boolean {
    const conv = this.#conv("data", g, false);
    if (!conv) return false;
    this.#run(conv.reorder, [[ARG.from, conv.memories.user, w], [
      ARG.to,
      conv.memories.inner,
      conv.filter,
    ]]);
    this.#run(conv.primitive, [
      [ARG.diffDst, conv.memories.c, dy],
      [ARG.weights, conv.memories.inner, conv.filter],
      [ARG.diffSrc, conv.memories.a, dx],
    ]);
    return true;
  }

  backwardWeights(
    g: ConvGeometry,
    x: Float32Array,
    dy: Float32Array,
    dw: Float32Array,
  ): boolean {
    const conv = this.#conv("weights", g, false);
    if (!conv) return false;
    this.#run(conv.primitive, [
      [ARG.src, conv.memories.a, x],
      [ARG.diffDst, conv.memories.c, dy],
      [ARG.diffWeights, conv.memories.inner, conv.filter],
    ]);
    this.#run(conv.reorder, [[ARG.from, conv.memories.inner, conv.filter], [
      ARG.to,
      conv.memories.user,
      dw,
    ]]);
    return true;
  }

  binary(
    op: BinaryOp,
    rows: number,
    cols: number,
    b: "same" | "row" | "scalar",
    aData: Float32Array,
    bData: Float32Array,
    out: Float32Array,
  ): boolean {
    const simple = this.#simple(`binary/${op}/${b}/${rows}/${cols}`, (s) => {
      const full = channelsLast(s, rows, cols);
      const other = b === "same"
        ? full
        : channelsLast(s, 1, b === "row" ? cols : 1);
      const desc = new Uint8Array(OP_DESC_BYTES);
      check(
        s.dnnl_binary_desc_init(desc, BINARY[op], full, other, full),
        "describe an elementwise operation",
      );
      return {
        desc,
        args: { [ARG.src]: full, [ARG.src1]: other, [ARG.dst]: full },
      };
    });
    if (!simple) return false;
    this.#run(simple.primitive, [
      [ARG.src, simple.memories[ARG.src], aData],
      [ARG.src1, simple.memories[ARG.src1], bData],
      [ARG.dst, simple.memories[ARG.dst], out],
    ]);
    return true;
  }

  batchNorm(
    shape: [number, number, number, number],
    epsilon: number,
    x: Float32Array,
    stats: BatchNormStats,
    y: Float32Array,
  ): boolean {
    const [n, h, w, c] = shape;
    const key = `batchnorm/${shape.join("x")}/${epsilon}`;
    const simple = this.#simple(key, (s) => {
      const data = describe(s, [n, c, h, w], [h * w * c, 1, w * c, c]);
      const channel = describe(s, [c], [1]);
      const desc = new Uint8Array(OP_DESC_BYTES);
      check(
        s.dnnl_batch_normalization_forward_desc_init(
          desc,
          FORWARD_INFERENCE,
          data,
          epsilon,
          USE_GLOBAL_STATS | USE_SCALE | USE_SHIFT,
        ),
        "describe a batch normalization",
      );
      return {
        desc,
        args: {
          [ARG.src]: data,
          [ARG.dst]: data,
          [ARG.mean]: channel,
          [ARG.variance]: channel,
          [ARG.scale]: channel,
          [ARG.shift]: channel,
        },
      };
    });
    if (!simple) return false;
    const m = simple.memories;
    this.#run(simple.primitive, [
      [ARG.src, m[ARG.src], x],
      [ARG.mean, m[ARG.mean], stats.mean],
      [ARG.variance, m[ARG.variance], stats.variance],
      [ARG.scale, m[ARG.scale], stats.scale],
      [ARG.shift, m[ARG.shift], stats.offset],
      [ARG.dst, m[ARG.dst], y],
    ]);
    return true;
  }

  sgemm(args: SgemmArgs): void {
    const transA = args.transA ?? false;
    const transB = args.transB ?? false;
    const status = this.#lib.symbols.dnnl_sgemm(
      transA ? TRANSPOSED : NOT_TRANSPOSED,
      transB ? TRANSPOSED : NOT_TRANSPOSED,
      BigInt(args.m),
      BigInt(args.n),
      BigInt(args.k),
      args.alpha ?? 1,
      args.a,
      BigInt(args.lda ?? (transA ? args.m : args.k)),
      args.b,
      BigInt(args.ldb ?? (transB ? args.k : args.n)),
      args.beta ?? 0,
      args.c,
      BigInt(args.ldc ?? args.n),
    );
    check(status, `multiply ${args.m}x${args.k} by ${args.k}x${args.n}`);
  }

  batchNormTraining(
    shape: [number, number, number, number],
    epsilon: number,
    x: Float32Array,
    stats: BatchNormStats,
    y: Float32Array,
  ): boolean {
    const key = `batchnorm-training/${shape.join("x")}/${epsilon}`;
    const simple = this.#simple(key, (s) => ({
      desc: this.#trainingDesc(s, shape, epsilon),
      args: batchNormArgs(s, shape, [ARG.src, ARG.dst]),
    }));
    if (!simple) return false;
    const m = simple.memories;
    this.#run(simple.primitive, [
      [ARG.src, m[ARG.src], x],
      [ARG.scale, m[ARG.scale], stats.scale],
      [ARG.shift, m[ARG.shift], stats.offset],
      [ARG.dst, m[ARG.dst], y],
      [ARG.mean, m[ARG.mean], stats.mean],
      [ARG.variance, m[ARG.variance], stats.variance],
    ]);
    return true;
  }

  batchNormBackward(
    shape: [number, number, number, number],
    epsilon: number,
    x: Float32Array,
    stats: BatchNormStats,
    dy: Float32Array,
    grads: BatchNormGrads,
  ): boolean {
    const key = `batchnorm-backward/${shape.join("x")}/${epsilon}`;
    const simple = this.#simple(key, (s) => {
      const hint = this.#trainingHint(s, shape, epsilon);
      const data = nhwc(s, shape);
      const desc = new Uint8Array(OP_DESC_BYTES);
      check(
        s.dnnl_batch_normalization_backward_desc_init(
          desc,
          BACKWARD,
          data,
          data,
          epsilon,
          USE_SCALE | USE_SHIFT,
        ),
        "describe a batch normalization's gradient",
      );
      const channel = describe(s, [shape[3]], [1]);
      return {
        desc,
        hint,
        args: {
          ...batchNormArgs(s, shape, [ARG.src, ARG.diffDst, ARG.diffSrc]),
          [ARG.diffScale]: channel,
          [ARG.diffShift]: channel,
        },
      };
    });
    if (!simple) return false;
    const m = simple.memories;
    this.#run(simple.primitive, [
      [ARG.src, m[ARG.src], x],
      [ARG.mean, m[ARG.mean], stats.mean],
      [ARG.variance, m[ARG.variance], stats.variance],
      [ARG.scale, m[ARG.scale], stats.scale],
      [ARG.shift, m[ARG.shift], stats.offset],
      [ARG.diffDst, m[ARG.diffDst], dy],
      [ARG.diffSrc, m[ARG.diffSrc], grads.dx],
      [ARG.diffScale, m[ARG.diffScale], grads.dScale],
      [ARG.diffShift, m[ARG.diffShift], grads.dOffset],
    ]);
    return true;
  }

  /** The forward-training operation descriptor of a batch normalization. */
  #trainingDesc(
    s: Library["symbols"],
    shape: [number, number, number, number],
    epsilon: number,
  ): Uint8Array {
    const desc = new Uint8Array(OP_DESC_BYTES);
    check(
      s.dnnl_batch_normalization_forward_desc_init(
        desc,
        FORWARD_TRAINING,
        nhwc(s, shape),
        epsilon,
        USE_SCALE | USE_SHIFT,
      ),
      "describe a batch normalization",
    );
    return desc;
  }

  /** The forward-training primitive descriptor the backward one needs. */
  #trainingHint(
    s: Library["symbols"],
    shape: [number, number, number, number],
    epsilon: number,
  ): Pointer {
    const key = `batchnorm/${shape.join("x")}/${epsilon}`;
    const known = this.#forwardHints.get(key);
    if (known) return known;
    const pd = out();
    check(
      s.dnnl_primitive_desc_create(
        pd,
        this.#trainingDesc(s, shape, epsilon),
        null,
        this.#engine,
        null,
      ),
      "choose a batch normalization",
    );
    const pointer = Deno.UnsafePointer.create(pd[0]);
    this.#forwardHints.set(key, pointer);
    return pointer;
  }

  close(): void {
    this.#convs.clear();
    this.#forwardHints.clear();
    this.#others.clear();
  }

  /**
   * A primitive that needs no reorder, built once per `key` from an
   * operation descriptor and the memory descriptor of each argument
   * (null, cached too, when oneDNN has none).
   */
  #simple(
    key: string,
    describeOp: (s: Library["symbols"]) => {
      desc: Uint8Array;
      args: Record<number, Uint8Array>;
      /** The forward primitive descriptor a backward one is chosen by. */
      hint?: Pointer;
    },
  ): Simple | null {
    let simple = this.#others.get(key);
    if (simple !== undefined) return simple;
    const s = this.#lib.symbols;
    try {
      const { desc, args, hint } = describeOp(s);
      const pd = out();
      check(
        s.dnnl_primitive_desc_create(
          pd,
          desc,
          null,
          this.#engine,
          hint ?? null,
        ),
        "choose a primitive",
      );
      const primitive = out();
      check(
        s.dnnl_primitive_create(primitive, Deno.UnsafePointer.create(pd[0])),
        "build a primitive",
      );
      const memories: Record<number, Pointer> = {};
      for (const [arg, md] of Object.entries(args)) {
        const m = out();
        check(
          s.dnnl_memory_create(
            m,
            Deno.UnsafePointer.of(md),
            this.#engine,
            null,
          ),
          "create a memory",
        );
        memories[Number(arg)] = Deno.UnsafePointer.create(m[0]);
      }
      simple = { primitive: Deno.UnsafePointer.create(primitive[0]), memories };
    } catch {
      simple = null;
    }
    this.#others.set(key, simple);
    return simple;
  }

  /** Points each memory at its array (the arrays move as wasm grows). */
  #run(primitive: Pointer, args: [number, Pointer, Float32Array][]): void {
    const s = this.#lib.symbols;
    const packed = new BigUint64Array(args.length * 2);
    args.forEach(([arg, memory, data], i) => {
      check(
        s.dnnl_memory_set_data_handle(memory, Deno.UnsafePointer.of(data)),
        "point a memory at its data",
      );
      packed[2 * i] = BigInt(arg);
      packed[2 * i + 1] = BigInt(Deno.UnsafePointer.value(memory));
    });
    check(
      s.dnnl_primitive_execute(primitive, this.#stream, args.length, packed),
      "run a primitive",
    );
    check(s.dnnl_stream_wait(this.#stream), "wait for a primitive");
  }

  #conv(
    kind: "forward" | "data" | "weights",
    g: ConvGeometry,
    bias: boolean,
  ): Conv | null {
    const key = `${kind}/${bias}/${geometryKey(g)}`;
    let conv = this.#convs.get(key);
    if (conv === undefined) {
      try {
        conv = this.#build(kind, g, bias);
      } catch {
        conv = null;
      }
      this.#convs.set(key, conv);
    }
    return conv;
  }

  #build(
    kind: "forward" | "data" | "weights",
    g: ConvGeometry,
    bias: boolean,
  ): Conv {
    const s = this.#lib.symbols;
    const d = descriptors(s, g);
    const op = new Uint8Array(OP_DESC_BYTES);
    const anyFilter = describe(
      s,
      [g.outC, g.inC, g.kH, g.kW],
      undefined,
    );
    const biasMd = describe(s, [g.outC], [1]);
    if (kind === "forward") {
      check(
        s.dnnl_convolution_forward_desc_init(
          op,
          FORWARD_TRAINING,
          CONVOLUTION_DIRECT,
          d.input,
          anyFilter,
          bias ? Deno.UnsafePointer.of(biasMd) : null,
          d.output,
          d.strides,
          d.padL,
          d.padR,
        ),
        "describe a convolution",
      );
    } else if (kind === "data") {
      check(
        s.dnnl_convolution_backward_data_desc_init(
          op,
          CONVOLUTION_DIRECT,
          d.input,
          anyFilter,
          d.output,
          d.strides,
          d.padL,
          d.padR,
        ),
        "describe a convolution's input gradient",
      );
    } else {
      check(
        s.dnnl_convolution_backward_weights_desc_init(
          op,
          CONVOLUTION_DIRECT,
          d.input,
          anyFilter,
          null,
          d.output,
          d.strides,
          d.padL,
          d.padR,
        ),
        "describe a convolution's filter gradient",
      );
    }
    const hint = kind === "forward" ? null : this.#forwardHint(g, d);
    const pd = out();
    check(
      s.dnnl_primitive_desc_create(pd, op, null, this.#engine, hint),
      "choose a convolution",
    );
    const pdPointer = Deno.UnsafePointer.create(pd[0]);
    const primitive = out();
    check(s.dnnl_primitive_create(primitive, pdPointer), "build a primitive");
    const innerMd = s.dnnl_primitive_desc_query_md(
      pdPointer,
      kind === "weights" ? QUERY.diffWeightsMd : QUERY.weightsMd,
      0,
    );
    const reorderPd = out();
    check(
      kind === "weights"
        ? s.dnnl_reorder_primitive_desc_create(
          reorderPd,
          innerMd,
          this.#engine,
          Deno.UnsafePointer.of(d.filter),
          this.#engine,
          null,
        )
        : s.dnnl_reorder_primitive_desc_create(
          reorderPd,
          Deno.UnsafePointer.of(d.filter),
          this.#engine,
          innerMd,
          this.#engine,
          null,
        ),
      "reorder a filter",
    );
    const reorder = out();
    check(
      s.dnnl_primitive_create(reorder, Deno.UnsafePointer.create(reorderPd[0])),
      "build a reorder",
    );
    const bytes = Number(s.dnnl_memory_desc_get_size(innerMd));
    const memory = (md: Pointer) => {
      const m = out();
      check(
        s.dnnl_memory_create(m, md, this.#engine, null),
        "create a memory",
      );
      return Deno.UnsafePointer.create(m[0]);
    };
    const of = (md: Uint8Array) => memory(Deno.UnsafePointer.of(md));
    return {
      primitive: Deno.UnsafePointer.create(primitive[0]),
      reorder: Deno.UnsafePointer.create(reorder[0]),
      filter: new Float32Array(Math.ceil(bytes / 4)),
      memories: {
        a: of(d.input),
        b: of(biasMd),
        c: of(d.output),
        user: of(d.filter),
        inner: memory(innerMd),
      },
    };
  }

  /** The forward primitive descriptor the backward ones are chosen by. */
  #forwardHint(g: ConvGeometry, d: Descriptors): Pointer {
    const key = geometryKey(g);
    const known = this.#forwardHints.get(key);
    if (known) return known;
    const s = this.#lib.symbols;
    const op = new Uint8Array(OP_DESC_BYTES);
    check(
      s.dnnl_convolution_forward_desc_init(
        op,
        FORWARD_TRAINING,
        CONVOLUTION_DIRECT,
        d.input,
        describe(s, [g.outC, g.inC, g.kH, g.kW], undefined),
        null,
        d.output,
        d.strides,
        d.padL,
        d.padR,
      ),
      "describe a convolution",
    );
    const pd = out();
    check(
      s.dnnl_primitive_desc_create(pd, op, null, this.#engine, null),
      "choose a convolution",
    );
    const pointer = Deno.UnsafePointer.create(pd[0]);
    this.#forwardHints.set(key, pointer);
    return pointer;
  }
}

/**
 * oneDNN's sgemm as the native pack's BLAS, so that matrix products,
 * convolutions and elementwise kernels share one pool of OpenMP threads.
 * Beside a second library's pool (OpenBLAS's pthreads), each pool's
 * threads spin while the other's work: on two cores an MLP step took
 * 2 to 8 times as long. sgemv is an sgemm with one column.
 *
 * @example
 * ```ts
 * import { dnnlBlas, loadDnnl } from "./dnnl.ts";
 * const found = loadDnnl();
 * if (found.available) {
 *   const c = new Float32Array(1);
 *   dnnlBlas(found.dnnl).sgemm({
 *     m: 1, n: 1, k: 2,
 *     a: Float32Array.of(1, 2),
 *     b: Float32Array.of(3, 4),
 *     c,
 *   });
 *   console.assert(c[0] === 11);
 * }
 * ```
 */
export function dnnlBlas(dnnl: Dnnl): Blas {
  return {
    path: `${dnnl.path} (oneDNN ${dnnl.version} sgemm)`,
    config: `oneDNN ${dnnl.version}`,
    sgemm: (args) => dnnl.sgemm(args),
    sgemv: (args) => dnnl.sgemm(asGemm(args)),
    threads: () => undefined,
    setThreads: () => {},
    close: () => {},
  };
}

/** y = alpha op(A) x + beta y as a product with a one-column matrix. */
function asGemm(args: SgemvArgs): SgemmArgs {
  const lda = args.lda ?? args.n;
  const common = { alpha: args.alpha, beta: args.beta, c: args.y };
  if (args.trans) {
    // y^T (1 x n) = x^T (1 x m) A (m x n)
    return {
      ...common,
      m: 1,
      n: args.n,
      k: args.m,
      a: args.x,
      b: args.a,
      ldb: lda,
    };
  }
  // y (m x 1) = A (m x n) x (n x 1)
  return { ...common, m: args.m, n: 1, k: args.n, a: args.a, lda, b: args.x };
}

interface Descriptors {
  input: Uint8Array;
  output: Uint8Array;
  filter: Uint8Array;
  strides: BigInt64Array;
  padL: BigInt64Array;
  padR: BigInt64Array;
}

/**
 * oneDNN's logical dims are (N, C, H, W) and (O, I, KH, KW); strides give
 * fisherlab's NHWC activations and HWIO filters.
 */
function descriptors(s: Library["symbols"], g: ConvGeometry): Descriptors {
  if (g.dilationH !== 1 || g.dilationW !== 1) {
    throw new Error("dilated convolutions take the BLAS path");
  }
  const input = describe(s, [g.batch, g.inC, g.inH, g.inW], [
    g.inH * g.inW * g.inC,
    1,
    g.inW * g.inC,
    g.inC,
  ]);
  const output = describe(s, [g.batch, g.outC, g.outH, g.outW], [
    g.outH * g.outW * g.outC,
    1,
    g.outW * g.outC,
    g.outC,
  ]);
  const filter = describe(s, [g.outC, g.inC, g.kH, g.kW], [
    1,
    g.outC,
    g.kW * g.inC * g.outC,
    g.inC * g.outC,
  ]);
  const bottom = (g.outH - 1) * g.strideH + g.kH - g.inH - g.padTop;
  const right = (g.outW - 1) * g.strideW + g.kW - g.inW - g.padLeft;
  return {
    input,
    output,
    filter,
    strides: dims(g.strideH, g.strideW),
    padL: dims(g.padTop, g.padLeft),
    padR: dims(bottom, right),
  };
}

/** NHWC data of `shape` as oneDNN's (N, C, H, W). */
function nhwc(
  s: Library["symbols"],
  [n, h, w, c]: [number, number, number, number],
): Uint8Array {
  return describe(s, [n, c, h, w], [h * w * c, 1, w * c, c]);
}

/**
 * The memory descriptors of a batch normalization's arguments: `data`
 * ones of the data's shape, and its four per-channel arrays.
 */
function batchNormArgs(
  s: Library["symbols"],
  shape: [number, number, number, number],
  data: number[],
): Record<number, Uint8Array> {
  const full = nhwc(s, shape);
  const channel = describe(s, [shape[3]], [1]);
  const args: Record<number, Uint8Array> = {};
  for (const arg of data) args[arg] = full;
  for (const arg of [ARG.mean, ARG.variance, ARG.scale, ARG.shift]) {
    args[arg] = channel;
  }
  return args;
}

/** A memory descriptor: by strides, or any layout when strides is absent. */
function describe(
  s: Library["symbols"],
  shape: number[],
  strides: number[] | undefined,
): Uint8Array {
  const md = new Uint8Array(MEMORY_DESC_BYTES);
  check(
    strides
      ? s.dnnl_memory_desc_init_by_strides(
        md,
        shape.length,
        dims(...shape),
        F32,
        dims(...strides),
      )
      : s.dnnl_memory_desc_init_by_tag(
        md,
        shape.length,
        dims(...shape),
        F32,
        TAG_ANY,
      ),
    "describe a memory",
  );
  return md;
}

/**
 * `rows` x `cols` row-major as oneDNN's (N, C, 1, 1) in channels-last
 * order: its elementwise kernels vectorize along C and share N between
 * threads.
 */
function channelsLast(
  s: Library["symbols"],
  rows: number,
  cols: number,
): Uint8Array {
  return describe(s, [rows, cols, 1, 1], [cols, 1, cols, cols]);
}

function dims(...values: number[]): BigInt64Array {
  return new BigInt64Array(values.map(BigInt));
}

function out(): BigUint64Array {
  return new BigUint64Array(1);
}

function check(status: number, what: string): void {
  if (status !== 0) {
    throw new Error(`oneDNN could not ${what} (status ${status})`);
  }
}
