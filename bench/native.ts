/**
 * Native kernels against plain wasm and PyTorch, side by side in one run:
 *
 * - a SimpleCNN SGD step (models/simple_cnn.ts: two blocks of 3x3 conv
 *   "same", ReLU, 2x2 max pool, then dense 128 ReLU, dense 10) at batch 128
 *   on MNIST shapes;
 * - a Fisher-penalty-like step, the gradient of L + alpha ||grad_theta L||^2
 *   by double backprop;
 * - a 1024^3 float32 matrix product, in GFLOP/s;
 * - for each native kernel that calls the BLAS or oneDNN, the share of its
 *   time spent inside that library during SimpleCNN's SGD and
 *   Fisher-penalty steps and a ResNet-8 SGD step (the rest is im2col,
 *   padding, transposes).
 *
 * Each fisherlab workload runs on the wasm backend twice, without and with
 * the BLAS-backed kernels of core/native; the reference is
 * bench/reference.py (PyTorch on the CPU), run in the same process tree
 * right after, when python3 with torch is installed.
 *
 * Run alone: `deno run -A bench/native.ts [--quick]` prints the rows as
 * JSON.
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import { simpleCnn } from "../models/simple_cnn.ts";
import { resnet } from "../models/resnet.ts";
import { useBackend } from "../core/backend.ts";
import {
  crossEntropy,
  forward,
  squaredNorm,
  trainableParams,
  valueAndGrads,
} from "../core/functional.ts";
import type { Blas } from "../core/native/blas.ts";
import {
  disableNativeKernels,
  enableNativeKernels,
  type NativeKernelOptions,
  type NativeKernelsStatus,
  nativeKernelsStatus,
  productLibrary,
} from "../core/native/kernels.ts";
import { median, runReference } from "./_measure.ts";
import type { BenchRow } from "./row.ts";

const BATCH = 128;
const LR = 0.01;
const ALPHA = 0.1;

/** What bench/reference.py prints. */
interface Reference {
  torch: string;
  sgdStepMs: number;
  sgdThreads: number;
  fisherStepMs: number;
  fisherThreads: number;
  matmul1024Gflops: number;
  matmulThreads: number;
}

/** Times the workloads; see the module documentation. */
export async function run(options: { quick: boolean }): Promise<BenchRow[]> {
  await useBackend("wasm");
  // The library the pack computes products with by default (shared: not
  // closed here).
  const found = productLibrary();
  const blas = found.available ? found.blas : undefined;
  const model = simpleCnn({ seed: 1 });
  const params = trainableParams(model);
  const x = tf.randomNormal([BATCH, 28, 28, 1], 0, 1, "float32", 1);
  const y = tf.randomUniform([BATCH], 0, 10, "int32", 2);
  const loss = () => crossEntropy(forward(model, x, true), y) as tf.Scalar;
  const sgd = () => step(params, () => valueAndGrads(loss, params));
  const fisher = () =>
    step(params, () =>
      valueAndGrads(() => {
        const inner = valueAndGrads(loss, params);
        return tf.add(inner.value, tf.mul(ALPHA, squaredNorm(inner.grads)));
      }, params));

  const repeats = options.quick ? 3 : 10;
  const train = paired(sgd, repeats, blas);
  const curvature = paired(fisher, options.quick ? 2 : 5, blas);
  const status = blas
    ? enableNativeKernels({ blas })
    : { ...nativeKernelsStatus(), reason: found.available ? "" : found.reason };
  const calls = nativeCalls(sgd);
  const shares = status.enabled
    ? [
      ...blasShares(sgd, "SimpleCNN SGD step", repeats),
      ...blasShares(fisher, "SimpleCNN Fisher-penalty step", 2),
      ...resnetShares(options.quick ? 1 : 3),
    ]
    : [];
  disableNativeKernels();
  tf.dispose([x, y]);
  model.dispose();
  const kernels = kernelTimes(options.quick ? 3 : 7, blas);
  const matmul = {
    wasm: wasmMatMulGflops(options.quick ? 2 : 5),
    native: blas ? ffiSgemmGflops(blas, options.quick ? 3 : 10) : NaN,
  };

  const reference = await runReference<Reference>(
    "reference.py",
    options.quick,
    (r) => r.sgdStepMs !== undefined,
  );
  return [
    ...rows({ train, curvature, matmul }, reference, status, calls),
    ...kernels,
    ...shares,
  ];
}

/**
 * For each native kernel that calls the BLAS or oneDNN, the share of its
 * time spent inside that library over `repeats` runs of `step` (after one
 * untimed run): how close the kernel comes to the library it calls. The
 * rest is lowering (im2col, padding, transposes) and bookkeeping.
 */
function blasShares(
  step: () => unknown,
  label: string,
  repeats: number,
): BenchRow[] {
  step();
  const before = nativeKernelsStatus().calls;
  for (let i = 0; i < repeats; i++) step();
  const after = nativeKernelsStatus().calls;
  const out: BenchRow[] = [];
  for (const [name, c] of Object.entries(after)) {
    const b = before[name as keyof typeof before];
    const ms = c.ms - (b?.ms ?? 0);
    const blasMs = c.blasMs - (b?.blasMs ?? 0);
    // Kernels under a millisecond per step matter little and time noisily.
    if (blasMs <= 0 || ms < repeats) continue;
    const calls = (c.native - (b?.native ?? 0)) / repeats;
    out.push({
      group: "kernels",
      workload: `${name}: time inside BLAS or oneDNN, ${label}, ` +
        `batch ${BATCH}`,
      unit: "% of kernel",
      fisherlab: 100 * blasMs / ms,
      note: `${calls} call(s) per step, ${(ms / repeats).toFixed(1)} ms ` +
        "per step in all; 100% would be the bare library call" +
        (name === "Sum" || name === "Mean"
          ? "; leading and middle axes are summed by fisherlab's own SIMD " +
            "code, which calls no library, so a low share is expected"
          : ""),
    });
  }
  return out;
}

/** {@linkcode blasShares} of a ResNet-8 SGD step on CIFAR shapes. */
function resnetShares(repeats: number): BenchRow[] {
  const model = resnet();
  const params = trainableParams(model);
  const x = tf.randomNormal([BATCH, 32, 32, 3], 0, 1, "float32", 3);
  const y = tf.randomUniform([BATCH], 0, 10, "int32", 4);
  const loss = () => crossEntropy(forward(model, x, true), y) as tf.Scalar;
  try {
    return blasShares(
      () => step(params, () => valueAndGrads(loss, params)),
      "ResNet-8 SGD step",
      repeats,
    );
  } finally {
    tf.dispose([x, y]);
    model.dispose();
  }
}

/** The SimpleCNN step's heaviest kernels, each timed alone, both ways. */
export function kernelTimes(repeats: number, blas?: Blas): BenchRow[] {
  const [n, s] = [BATCH, "same" as const];
  const seeded = (shape: number[], seed: number) =>
    tf.randomNormal(shape, 0, 1, "float32", seed);
  const x1 = seeded([n, 28, 28, 1], 5) as tf.Tensor4D;
  const w1 = seeded([3, 3, 1, 32], 6) as tf.Tensor4D;
  const x2 = seeded([n, 14, 14, 32], 7) as tf.Tensor4D;
  const w2 = seeded([3, 3, 32, 64], 8) as tf.Tensor4D;
  const dy1 = seeded([n, 28, 28, 32], 9) as tf.Tensor4D;
  const dy2 = seeded([n, 14, 14, 64], 10) as tf.Tensor4D;
  const h = seeded([n, 7 * 7 * 64], 11);
  const w3 = seeded([7 * 7 * 64, 128], 12);
  const conv = { strides: 1, pad: s, dataFormat: "NHWC" };
  const run = (name: string, inputs: tf.NamedTensorMap, attrs: object) => () =>
    tf.tidy(() => {
      tf.engine().runKernel(name, inputs, attrs as tf.NamedAttrMap);
    });
  const cases: [string, () => void][] = [
    ["Conv2D 3x3, 128x28x28x1 -> 32", () => tf.conv2d(x1, w1, 1, s).dispose()],
    ["Conv2D 3x3, 128x14x14x32 -> 64", () => tf.conv2d(x2, w2, 1, s).dispose()],
    [
      "Conv2DBackpropFilter 3x3, 128x28x28x1 -> 32",
      run("Conv2DBackpropFilter", { x: x1, dy: dy1 }, {
        ...conv,
        filterShape: w1.shape,
      }),
    ],
    [
      "Conv2DBackpropFilter 3x3, 128x14x14x32 -> 64",
      run("Conv2DBackpropFilter", { x: x2, dy: dy2 }, {
        ...conv,
        filterShape: w2.shape,
      }),
    ],
    [
      "Conv2DBackpropInput 3x3, 128x14x14x64 -> 32",
      run("Conv2DBackpropInput", { dy: dy2, filter: w2 }, {
        ...conv,
        inputShape: x2.shape,
      }),
    ],
    ["MatMul 128x3136 by 3136x128", () => tf.matMul(h, w3).dispose()],
    [
      "Sum over N, H, W of 128x28x28x32",
      () => tf.sum(dy1, [0, 1, 2]).dispose(),
    ],
  ];
  const out = cases.map(([workload, f]): BenchRow => {
    // No im2col cache: each call gathers its columns, as a first call does.
    const t = paired(f, repeats, blas, { columnCacheBytes: 0 });
    const ratio = (t.wasm / t.native).toFixed(2);
    return {
      group: "kernels",
      workload: `${workload}, native`,
      unit: "ms/call",
      fisherlab: t.native,
      note: `fisherlab's wasm kernel: ${t.wasm.toFixed(2)} ms, ${ratio}x ` +
        "slower" + (t.error ? `; failed: ${t.error}` : ""),
    };
  });
  tf.dispose([x1, w1, x2, w2, dy1, dy2, h, w3]);
  return out;
}

/** Median times of `f` without and with native kernels. */
interface Pair {
  wasm: number;
  native: number;
  error?: string;
}

/**
 * Times `f` alternately without and with native kernels, so that both see
 * the same load on a shared machine; medians of each. Each native timing
 * follows one untimed call, as in training, where the scratch memory of
 * the native kernels is allocated once.
 */
function paired(
  f: () => unknown,
  repeats: number,
  blas?: Blas,
  options: NativeKernelOptions = {},
): Pair {
  const wasm: number[] = [];
  const native: number[] = [];
  try {
    for (let i = -2; i < repeats; i++) {
      disableNativeKernels();
      const a = timeMs(f);
      if (blas) {
        enableNativeKernels({ ...options, blas });
        f(); // enabling starts with empty scratch memory: fill it first
      }
      const b = blas ? timeMs(f) : NaN;
      if (i >= 0) {
        wasm.push(a);
        native.push(b);
      }
    }
    return { wasm: median(wasm), native: median(native) };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { wasm: NaN, native: NaN, error: message };
  } finally {
    disableNativeKernels();
  }
}

function timeMs(f: () => unknown): number {
  const start = performance.now();
  f();
  return performance.now() - start;
}

/** One SGD update from the gradients `grad` computes; returns the loss. */
function step(
  params: tf.Variable[],
  grad: () => { value: tf.Scalar; grads: tf.Tensor[] },
): number {
  return tf.tidy(() => {
    const { value, grads } = grad();
    params.forEach((p, i) => p.assign(tf.sub(p, tf.mul(LR, grads[i]))));
    return value.dataSync()[0];
  });
}

function medianMs(f: () => unknown, repeats: number): number {
  f();
  f();
  return median(Array.from({ length: repeats }, () => timeMs(f)));
}

const N = 1024;
const FLOP = 2 * N ** 3;

function wasmMatMulGflops(repeats: number): number {
  const a = tf.randomNormal([N, N], 0, 1, "float32", 3);
  const b = tf.randomNormal([N, N], 0, 1, "float32", 4);
  const ms = medianMs(() => tf.matMul(a, b).dispose(), repeats);
  tf.dispose([a, b]);
  return FLOP / (ms * 1e6);
}

function ffiSgemmGflops(blas: Blas, repeats: number): number {
  const a = new Float32Array(N * N).map(() => Math.random());
  const b = new Float32Array(N * N).map(() => Math.random());
  const c = new Float32Array(N * N);
  const ms = medianMs(() => blas.sgemm({ m: N, n: N, k: N, a, b, c }), repeats);
  return FLOP / (ms * 1e6);
}

/** Per kernel, native calls over all calls in one run of `f`. */
function nativeCalls(f: () => unknown): string {
  try {
    f();
  } catch {
    return "";
  }
  return Object.entries(nativeKernelsStatus().calls)
    .map(([name, c]) => `${name} ${c.native}/${c.native + c.fallback}`)
    .join(", ");
}

interface Timings {
  train: Pair;
  curvature: Pair;
  matmul: { wasm: number; native: number };
}

function rows(
  t: Timings,
  reference: Reference | string,
  status: NativeKernelsStatus,
  calls: string,
): BenchRow[] {
  const ref = typeof reference === "string" ? undefined : reference;
  const refNote = (threads?: number) =>
    ref
      ? `PyTorch ${ref.torch}, best of 1 and all CPUs: ${threads} thread(s)`
      : reference as string;
  const failed = (p: Pair) => p.error ? `; failed: ${p.error}` : "";
  const ratio = (a: number, b: number) =>
    Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : "-";
  const nativeNote = status.enabled
    ? `BLAS ${status.blasPath}; convolutions: ${status.convolutions}; ` +
      `native/all kernel calls per step: ${calls}`
    : `native kernels unavailable: ${status.reason}`;
  const train = `SimpleCNN SGD step, batch ${BATCH}`;
  const fisher = `Fisher-penalty step (double backprop), batch ${BATCH}`;
  return [
    {
      group: "train",
      workload: `${train}, wasm`,
      unit: "ms/step",
      fisherlab: t.train.wasm,
      reference: ref?.sgdStepMs,
      note: refNote(ref?.sgdThreads) + failed(t.train),
    },
    {
      group: "train",
      workload: `${train}, wasm + native kernels`,
      unit: "ms/step",
      fisherlab: t.train.native,
      reference: ref?.sgdStepMs,
      note: `${ratio(t.train.wasm, t.train.native)} faster than wasm; ` +
        nativeNote + failed(t.train),
    },
    {
      group: "curvature",
      workload: `${fisher}, wasm`,
      unit: "ms/step",
      fisherlab: t.curvature.wasm,
      reference: ref?.fisherStepMs,
      note: refNote(ref?.fisherThreads) + failed(t.curvature),
    },
    {
      group: "curvature",
      workload: `${fisher}, wasm + native kernels`,
      unit: "ms/step",
      fisherlab: t.curvature.native,
      reference: ref?.fisherStepMs,
      note: `${ratio(t.curvature.wasm, t.curvature.native)} faster than ` +
        "wasm" + failed(t.curvature),
    },
    {
      group: "kernels",
      workload: "matmul 1024^3, wasm",
      unit: "GFLOP/s",
      fisherlab: t.matmul.wasm,
      reference: ref?.matmul1024Gflops,
      higherIsBetter: true,
      note: `reference: torch.mm; ${refNote(ref?.matmulThreads)}`,
    },
    {
      group: "kernels",
      workload: "matmul 1024^3, sgemm through FFI",
      unit: "GFLOP/s",
      fisherlab: t.matmul.native,
      reference: ref?.matmul1024Gflops,
      higherIsBetter: true,
      note: `${ratio(t.matmul.native, t.matmul.wasm)} the wasm matmul; ` +
        (status.enabled ? `${status.blasPath}` : "no sgemm found"),
    },
  ];
}

if (import.meta.main) {
  const rowsOut = await run({ quick: Deno.args.includes("--quick") });
  const text = JSON.stringify(rowsOut, null, 2) + "\n";
  await Deno.stdout.write(new TextEncoder().encode(text));
}
