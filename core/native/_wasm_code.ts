/**
 * Small WebAssembly functions that run on the wasm backend's own memory,
 * assembled here byte by byte (under 1 KiB) and importing the backend's
 * exported memory:
 *
 * - `route2x2`: MaxPoolGrad for 2x2 windows at stride 2, in SIMD, four
 *   channels at a time. The first maximum is found by the same sequential
 *   scan as the JavaScript kernel (best starts at -Infinity, a tap wins
 *   only when strictly above it), with lane masks instead of branches.
 *   Each tap of a window is written, dy at the first maximum (plus zero,
 *   so -0 becomes 0 as with `0 + dy`) and zero elsewhere, so dx needs no
 *   clearing.
 * - `pick2x2`: its transpose, the derivative of MaxPoolGrad in dy: u read
 *   at each window's first maximum, found by the same scan.
 * - `copyRuns`: `count` strided runs of bytes, each one `memory.copy`:
 *   TypedArray.copyWithin on the wasm memory costs several times more per
 *   call, and element loops more per byte.
 * - `select`, `greater`: where(cond, t, e) bitwise and a > b, in SIMD.
 * - `relu`: max(x, 0) in place, in SIMD (the activation of a fused
 *   convolution or matrix product).
 * - `colsum`: adds each row of a row-major matrix to an accumulator row,
 *   in SIMD: the per-channel sums of batch norm and its gradient.
 * - `reluBackward`: dy step(y), the gradient of a ReLU read from its
 *   output, in SIMD: a multiply by 1, 0 or NaN (for NaN y), so it equals
 *   tf.mul(dy, tf.step(y)) bit for bit.
 * - `dot`: sum a_i b_i, each product exact in float64 and summed in four
 *   float64 partial sums, in SIMD: inner products and squared norms of
 *   weight-sized tensors without a product tensor.
 * - `axpby`: y = a x + b y in place, in SIMD: an optimizer's update of a
 *   weight or its velocity without a new tensor. Products and sum round
 *   to float32 one by one (WebAssembly has no fused multiply-add), so it
 *   matches tf.add(tf.mul(x, a), tf.mul(y, b)) bit for bit.
 *
 * @module
 */

/** route2x2(x, dy, dx, rows, wo, c, rowBytes); pointers in bytes. */
export type Route2x2 = (
  x: number,
  dy: number,
  dx: number,
  rows: number,
  wo: number,
  c: number,
  rowBytes: number,
) => void;

/**
 * pick2x2(x, u, out, rows, wo, c, rowBytes): for 2x2 windows at stride 2,
 * out = u at each window's first maximum of x (+0 when none); pointers in
 * bytes, u shaped as x, out as the pool's output.
 */
export type Pick2x2 = Route2x2;

/** copyRuns(src, dst, runBytes, count, srcStride, dstStride); in bytes. */
export type CopyRuns = (
  src: number,
  dst: number,
  runBytes: number,
  count: number,
  srcStride: number,
  dstStride: number,
) => void;

/** select(cond, t, e, out, n4): 4-byte out = cond ? t : e, 4 at a time. */
export type Select4 = (
  cond: number,
  t: number,
  e: number,
  out: number,
  groups: number,
) => void;

/** greater(a, b, out, n16): bool out = a > b (float32), 16 at a time. */
export type Greater16 = (
  a: number,
  b: number,
  out: number,
  groups: number,
) => void;

/** relu(x, groups): x = max(x, 0) in place, 4 floats a group. */
export type Relu4 = (x: number, groups: number) => void;

/**
 * colsum(x, acc, rows, groups): acc[j] += x[i][j] for each of `rows` rows
 * of `groups` groups of 4 floats; pointers in bytes.
 */
export type ColumnSum4 = (
  x: number,
  acc: number,
  rows: number,
  groups: number,
) => void;

/**
 * axpby(x, y, groups, a, b): y = a x + b y for `groups` groups of 4
 * floats; pointers in bytes.
 */
export type Axpby4 = (
  x: number,
  y: number,
  groups: number,
  a: number,
  b: number,
) => void;

/** reluBackward(y, dy, out, groups): out = dy step(y), 4 floats a group. */
export type ReluBackward4 = (
  y: number,
  dy: number,
  out: number,
  groups: number,
) => void;

/** dot(a, b, groups): sum a_i b_i over `groups` groups of 4 floats. */
export type Dot4 = (a: number, b: number, groups: number) => number;

/** The functions of the module. */
export interface WasmCode {
  dot: Dot4;
  reluBackward: ReluBackward4;
  relu: Relu4;
  colsum: ColumnSum4;
  axpby: Axpby4;
  route2x2: Route2x2;
  pick2x2: Pick2x2;
  copyRuns: CopyRuns;
  select: Select4;
  greater: Greater16;
}

const I32 = 0x7f;
const F32 = 0x7d;
const F64 = 0x7c;
const V128 = 0x7b;

// Parameters, then locals.
const [X, DY, DX, ROWS, WO, C, ROW] = [0, 1, 2, 3, 4, 5, 6];
const [I, J, D, K, C4, O] = [7, 8, 9, 10, 11, 12];
const [V0, V1, V2, V3, BEST, T0, T1, T2, T3, G, NINF] = [
  13,
  14,
  15,
  16,
  17,
  18,
  19,
  20,
  21,
  22,
  23,
];

const get = (i: number) => [0x20, i];
const set = (i: number) => [0x21, i];
const simd = (op: number) => [0xfd, ...uleb(op)];
const load = [...simd(0x00), 0, 0];
const store = [...simd(0x0b), 0, 0];
const gt = simd(0x44);
const and = simd(0x4e);
const andNot = simd(0x4f);
const bitselect = simd(0x52);
const add = simd(0xe4);
const i32Add = 0x6a;
const geU = 0x4f;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Pushes base + k (+ extra locals), a byte address. */
function at(base: number, ...extra: number[]): number[] {
  const code = [...get(base), ...get(K), i32Add];
  for (const e of extra) code.push(...get(e), i32Add);
  return code;
}

/** local += step (a local index or a constant). */
function bump(local: number, step: number[]): number[] {
  return [...get(local), ...step, i32Add, ...set(local)];
}

/** i32.const, its operand in signed LEB128. */
function constI32(v: number): number[] {
  const out = [0x41];
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && !(byte & 0x40)) || (v === -1 && !!(byte & 0x40));
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

/**
 * route2x2 (`pick` false) or pick2x2 (`pick` true). They share the scan
 * over x; route2x2 then writes dy (walked by O) to the winning tap of dx
 * (walked by K), pick2x2 reads u at the winning tap (walked by K) into out
 * (walked by O). Parameter 1 is dy or u, parameter 2 dx or out.
 */
function body(pick: boolean): number[] {
  const tap = (v: number, ...extra: number[]) => [
    ...at(X, ...extra),
    ...load,
    ...set(v),
  ];
  const put = (mask: number[], ...extra: number[]) => [
    ...at(DX, ...extra),
    ...get(G),
    ...mask,
    ...and,
    ...store,
  ];
  // u & mask, u read at the tap.
  const take = (mask: number[], ...extra: number[]) => [
    ...at(DY, ...extra),
    ...load,
    ...mask,
    ...and,
  ];
  const or = simd(0x50);
  const winners = [
    [
      ...get(T0),
      ...get(T1),
      ...andNot,
      ...get(T2),
      ...andNot,
      ...get(T3),
      ...andNot,
    ],
    [...get(T1), ...get(T2), ...andNot, ...get(T3), ...andNot],
    [...get(T2), ...get(T3), ...andNot],
    [...get(T3)],
  ];
  // Exactly one winner mask is set per lane (none when every tap is NaN
  // or -Infinity), so the or of the masked taps is the winner's u, or +0.
  const write = pick
    ? [
      ...get(O),
      ...take(winners[0]),
      ...take(winners[1], C4),
      ...or,
      ...take(winners[2], ROW),
      ...or,
      ...take(winners[3], ROW, C4),
      ...or,
      ...store,
    ]
    : [
      ...put(winners[0]),
      ...put(winners[1], C4),
      ...put(winners[2], ROW),
      ...put(winners[3], ROW, C4),
    ];
  const scale = pick ? [] : [
    // g = dy + 0
    ...get(O),
    ...load,
    ...simd(0x0c),
    ...new Array(16).fill(0),
    ...add,
    ...set(G),
  ];
  const channel = [
    ...tap(V0),
    ...tap(V1, C4),
    ...tap(V2, ROW),
    ...tap(V3, ROW, C4),
    ...scale,
    // t0 = v0 > -inf; best = t0 ? v0 : -inf; and so on
    ...get(V0),
    ...get(NINF),
    ...gt,
    ...set(T0),
    ...get(V0),
    ...get(NINF),
    ...get(T0),
    ...bitselect,
    ...set(BEST),
    ...get(V1),
    ...get(BEST),
    ...gt,
    ...set(T1),
    ...get(V1),
    ...get(BEST),
    ...get(T1),
    ...bitselect,
    ...set(BEST),
    ...get(V2),
    ...get(BEST),
    ...gt,
    ...set(T2),
    ...get(V2),
    ...get(BEST),
    ...get(T2),
    ...bitselect,
    ...set(BEST),
    ...get(V3),
    ...get(BEST),
    ...gt,
    ...set(T3),
    // winners: t0 & ~t1 & ~t2 & ~t3, t1 & ~t2 & ~t3, t2 & ~t3, t3
    ...write,
    ...bump(K, constI32(16)),
    ...bump(O, constI32(16)),
    ...bump(D, constI32(16)),
  ];
  const loopWhile = (counter: number, limit: number, inner: number[]) => [
    0x02,
    0x40,
    0x03,
    0x40,
    ...get(counter),
    ...get(limit),
    geU,
    0x0d,
    1,
    ...inner,
    0x0c,
    0,
    0x0b,
    0x0b,
  ];
  const column = [
    ...constI32(0),
    ...set(D),
    ...loopWhile(D, C4, channel),
    ...bump(K, get(C4)), // skip the window's second column
    ...bump(J, constI32(1)),
  ];
  const row = [
    // k = 2 i rowBytes
    ...get(I),
    ...get(ROW),
    0x6c,
    ...constI32(1),
    0x74,
    ...set(K),
    ...constI32(0),
    ...set(J),
    ...loopWhile(J, WO, column),
    ...bump(I, constI32(1)),
  ];
  const code = [
    ...get(C),
    ...constI32(2),
    0x74,
    ...set(C4),
    ...get(pick ? DX : DY),
    ...set(O),
    0x43,
    0x00,
    0x00,
    0x80,
    0xff, // f32 -Infinity
    ...simd(0x13),
    ...set(NINF),
    ...constI32(0),
    ...set(I),
    ...loopWhile(I, ROWS, row),
    0x0b,
  ];
  const locals = [2, 6, I32, 11, V128];
  return [...uleb(locals.length + code.length), ...locals, ...code];
}

function copyBody(): number[] {
  const [src, dst, run, count, stride, dstStride, r] = [0, 1, 2, 3, 4, 5, 6];
  const code = [
    ...constI32(0),
    ...set(r),
    0x02,
    0x40,
    0x03,
    0x40,
    ...get(r),
    ...get(count),
    geU,
    0x0d,
    1,
    ...get(dst),
    ...get(src),
    ...get(run),
    0xfc,
    0x0a,
    0x00,
    0x00, // memory.copy
    ...bump(dst, get(dstStride)),
    ...bump(src, get(stride)),
    ...bump(r, constI32(1)),
    0x0c,
    0,
    0x0b,
    0x0b,
    0x0b,
  ];
  const locals = [1, 1, I32];
  return [...uleb(locals.length + code.length), ...locals, ...code];
}

/** A loop over `count` groups: `step` runs, then the pointers advance. */
function groups(
  counter: number,
  count: number,
  step: number[],
  advance: [number, number][],
): number[] {
  return [
    ...constI32(0),
    ...set(counter),
    0x02,
    0x40,
    0x03,
    0x40,
    ...get(counter),
    ...get(count),
    geU,
    0x0d,
    1,
    ...step,
    ...advance.flatMap(([p, by]) => bump(p, constI32(by))),
    ...bump(counter, constI32(1)),
    0x0c,
    0,
    0x0b,
    0x0b,
  ];
}

const loadAt = (offset: number) => [...simd(0x00), 0, ...uleb(offset)];

function fnBody(locals: number[], code: number[]): number[] {
  const all = [...locals, ...code, 0x0b];
  return [...uleb(all.length), ...all];
}

/** select(cond, t, e, out, groups of 4): out = cond ? t : e, bitwise. */
function selectBody(): number[] {
  const [cond, t, e, out, count, i] = [0, 1, 2, 3, 4, 5];
  const step = [
    ...get(out),
    ...get(t),
    ...load,
    ...get(e),
    ...load,
    ...get(cond),
    ...simd(0x5c), // v128.load32_zero
    0,
    0,
    ...simd(0x89), // i16x8.extend_low_i8x16_u
    ...simd(0xa9), // i32x4.extend_low_i16x8_u
    ...simd(0x0c),
    ...new Array(16).fill(0),
    ...simd(0x38), // i32x4.ne
    ...bitselect,
    ...store,
  ];
  const advance: [number, number][] = [[cond, 4], [t, 16], [e, 16], [
    out,
    16,
  ]];
  return fnBody([1, 1, I32], groups(i, count, step, advance));
}

/** greater(a, b, out, groups of 16): out = a > b as bytes 0 or 1. */
function greaterBody(): number[] {
  const [a, b, out, count, i] = [0, 1, 2, 3, 4];
  const gtAt = (offset: number) => [
    ...get(a),
    ...loadAt(offset),
    ...get(b),
    ...loadAt(offset),
    ...gt,
  ];
  const step = [
    ...get(out),
    ...gtAt(0),
    ...gtAt(16),
    ...simd(0x85), // i16x8.narrow_i32x4_s
    ...gtAt(32),
    ...gtAt(48),
    ...simd(0x85),
    ...simd(0x65), // i8x16.narrow_i16x8_s
    ...simd(0x0c),
    ...new Array(16).fill(1),
    ...and,
    ...store,
  ];
  const advance: [number, number][] = [[a, 64], [b, 64], [out, 16]];
  return fnBody([1, 1, I32], groups(i, count, step, advance));
}

/**
 * relu(x, groups of 4): x = max(x, 0) in place. f32x4.max gives +0 for
 * -0 and keeps NaN, as tfjs's Relu does.
 */
function reluBody(): number[] {
  const [x, count, i] = [0, 1, 2];
  const step = [
    ...get(x),
    ...get(x),
    ...load,
    ...simd(0x0c),
    ...new Array(16).fill(0),
    ...simd(0xe9), // f32x4.max
    ...store,
  ];
  return fnBody([1, 1, I32], groups(i, count, step, [[x, 16]]));
}

/** colsum(x, acc, rows, groups of 4): acc += each row of x. */
function columnSumBody(): number[] {
  const [x, acc, rows, count, i, j, o] = [0, 1, 2, 3, 4, 5, 6];
  const step = [
    ...get(o),
    ...get(o),
    ...load,
    ...get(x),
    ...load,
    ...add,
    ...store,
  ];
  const row = [
    ...get(acc),
    ...set(o),
    ...groups(j, count, step, [[x, 16], [o, 16]]),
  ];
  return fnBody([1, 3, I32], groups(i, rows, row, []));
}

/** axpby(x, y, groups of 4, a, b): y = a x + b y. */
function axpbyBody(): number[] {
  const [x, y, count, a, b, i, va, vb] = [0, 1, 2, 3, 4, 5, 6, 7];
  const splat = simd(0x13); // f32x4.splat
  const mul = simd(0xe6); // f32x4.mul
  const step = [
    ...get(y),
    ...get(x),
    ...load,
    ...get(va),
    ...mul,
    ...get(y),
    ...load,
    ...get(vb),
    ...mul,
    ...add,
    ...store,
  ];
  return fnBody([2, 1, I32, 2, V128], [
    ...get(a),
    ...splat,
    ...set(va),
    ...get(b),
    ...splat,
    ...set(vb),
    ...groups(i, count, step, [[x, 16], [y, 16]]),
  ]);
}

/** reluBackward(y, dy, out, groups of 4): out = dy step(y). */
function reluBackwardBody(): number[] {
  const [y, dy, out, count, i, v] = [0, 1, 2, 3, 4, 5];
  const f32 = (value: number) => {
    const bytes = new Uint8Array(new Float32Array([value]).buffer);
    return [...simd(0x0c), ...[0, 1, 2, 3].flatMap(() => [...bytes])];
  };
  const step = [
    ...get(out),
    ...get(dy),
    ...load,
    // 1 where y > 0, NaN where y is NaN, else 0: step(y) as tfjs has it.
    ...get(y),
    ...load,
    ...set(v),
    ...get(v),
    ...f32(0),
    ...gt,
    ...f32(1),
    ...and,
    ...get(v),
    ...get(v),
    ...simd(0x42), // f32x4.ne: NaN lanes
    ...f32(NaN),
    ...and,
    ...simd(0x50), // v128.or
    ...simd(0xe6), // f32x4.mul
    ...store,
  ];
  const advance: [number, number][] = [[y, 16], [dy, 16], [out, 16]];
  return fnBody([2, 1, I32, 1, V128], groups(i, count, step, advance));
}

/** dot(a, b, groups of 4): sum a_i b_i in float64. */
function dotBody(): number[] {
  const [a, b, count, i, lo, hi, va, vb] = [0, 1, 2, 3, 4, 5, 6, 7];
  const promote = simd(0x5f); // f64x2.promote_low_f32x4
  // i8x16.shuffle of v with itself: float lanes 2, 3 into 0, 1.
  const lanes23 = [8, 9, 10, 11, 12, 13, 14, 15];
  const high = [...simd(0x0d), ...lanes23, ...lanes23];
  const mul = simd(0xf2); // f64x2.mul
  const addF64x2 = simd(0xf0); // f64x2.add
  // The low two lanes of v, or (shuffled with itself) the high two, as
  // float64.
  const lanes = (v: number, upper: boolean) => [
    ...get(v),
    ...(upper ? [...get(v), ...high] : []),
    ...promote,
  ];
  const accumulate = (acc: number, upper: boolean) => [
    ...get(acc),
    ...lanes(va, upper),
    ...lanes(vb, upper),
    ...mul,
    ...addF64x2,
    ...set(acc),
  ];
  const step = [
    ...get(a),
    ...load,
    ...set(va),
    ...get(b),
    ...load,
    ...set(vb),
    ...accumulate(lo, false),
    ...accumulate(hi, true),
  ];
  return fnBody([2, 1, I32, 4, V128], [
    ...groups(i, count, step, [[a, 16], [b, 16]]),
    ...get(lo),
    ...get(hi),
    ...addF64x2,
    ...set(lo),
    ...get(lo),
    ...simd(0x21), // f64x2.extract_lane
    0,
    ...get(lo),
    ...simd(0x21),
    1,
    0xa0, // f64.add
  ]);
}

function section(id: number, bytes: number[]): number[] {
  return [id, ...uleb(bytes.length), ...bytes];
}

function name(text: string): number[] {
  const bytes = [...new TextEncoder().encode(text)];
  return [bytes.length, ...bytes];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  return new Uint8Array([
    0x00,
    0x61,
    0x73,
    0x6d,
    0x01,
    0x00,
    0x00,
    0x00,
    ...section(1, [
      7,
      ...[0x60, 7, ...new Array(7).fill(I32), 0],
      ...[0x60, 6, ...new Array(6).fill(I32), 0],
      ...[0x60, 5, ...new Array(5).fill(I32), 0],
      ...[0x60, 4, ...new Array(4).fill(I32), 0],
      ...[0x60, 2, ...new Array(2).fill(I32), 0],
      ...[0x60, 5, I32, I32, I32, F32, F32, 0],
      ...[0x60, 3, I32, I32, I32, 1, F64],
    ]),
    ...section(2, [1, ...name("env"), ...name("memory"), 0x02, 0x00, 0x00]),
    ...section(3, [10, 0, 1, 2, 3, 0, 4, 3, 5, 3, 6]),
    ...section(7, [
      10,
      ...[...name("route2x2"), 0x00, 0],
      ...[...name("copyRuns"), 0x00, 1],
      ...[...name("select"), 0x00, 2],
      ...[...name("greater"), 0x00, 3],
      ...[...name("pick2x2"), 0x00, 4],
      ...[...name("relu"), 0x00, 5],
      ...[...name("colsum"), 0x00, 6],
      ...[...name("axpby"), 0x00, 7],
      ...[...name("reluBackward"), 0x00, 8],
      ...[...name("dot"), 0x00, 9],
    ]),
    ...section(10, [
      10,
      ...body(false),
      ...copyBody(),
      ...selectBody(),
      ...greaterBody(),
      ...body(true),
      ...reluBody(),
      ...columnSumBody(),
      ...axpbyBody(),
      ...reluBackwardBody(),
      ...dotBody(),
    ]),
  ]);
}

/**
 * The functions bound to `memory`, or undefined when this runtime lacks
 * WebAssembly SIMD or bulk memory, or the memory cannot be imported.
 */
function wasmCodeOn(memory: WebAssembly.Memory): WasmCode | undefined {
  const bytes = moduleBytes();
  if (!WebAssembly.validate(bytes)) return undefined;
  try {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
      env: { memory },
    });
    const {
      route2x2,
      pick2x2,
      copyRuns,
      select,
      greater,
      relu,
      colsum,
      axpby,
      reluBackward,
      dot,
    } = instance.exports;
    return {
      route2x2,
      pick2x2,
      copyRuns,
      select,
      greater,
      relu,
      colsum,
      axpby,
      reluBackward,
      dot,
    } as WasmCode;
  } catch {
    return undefined;
  }
}

/** The module built on each wasm memory, once (null: it cannot be). */
const built = new WeakMap<WebAssembly.Memory, WasmCode | null>();

/**
 * The functions bound to the wasm backend's memory (see
 * {@linkcode wasmCodeOn}), built on first use and shared by every caller.
 */
export function wasmCodeFor(
  backend: { wasm: { asm?: { memory?: WebAssembly.Memory } } },
): WasmCode | undefined {
  const memory = backend.wasm.asm?.memory;
  if (!memory) return undefined;
  if (!built.has(memory)) built.set(memory, wasmCodeOn(memory) ?? null);
  return built.get(memory) ?? undefined;
}
