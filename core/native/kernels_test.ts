import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { useBackend } from "../backend.ts";
import { hessianVectorProduct, valueAndGrads } from "../functional.ts";
import { loadBlas } from "./blas.ts";
import { loadDnnl } from "./dnnl.ts";
import {
  disableNativeKernels,
  enableNativeKernels,
  type KernelCalls,
  NATIVE_KERNELS,
  type NativeKernelName,
  type NativeKernelOptions,
  type NativeKernelsStatus,
  nativeKernelsStatus,
} from "./kernels.ts";
import { convFilterRowNorms } from "../kernels/conv_row_norms.ts";

const found = loadBlas();
const dnnlFound = loadDnnl();
/** The convolution libraries to check: oneDNN when it loads, and the BLAS. */
const LIBRARIES: ("auto" | "blas")[] = dnnlFound.available
  ? ["auto", "blas"]
  : ["blas"];
/** The libraries for matrix products: oneDNN's sgemm when it loads, the BLAS. */
const PRODUCTS: ("auto" | "blas")[] = LIBRARIES;
const ignore = !found.available;
const skipped = found.available ? "" : ` (skipped: ${found.reason})`;

await useBackend("cpu");
await useBackend("wasm");

type Data = { shape: number[]; data: Float32Array };
type Case = {
  kernel: NativeKernelName;
  inputs: Record<string, Data>;
  attrs: Record<string, unknown>;
  label: string;
};

let seed = 1;
function random(shape: number[]): Data {
  const data = new Float32Array(tf.util.sizeFromShape(shape));
  for (let i = 0; i < data.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    data[i] = seed / 1073741824 - 1;
  }
  return { shape, data };
}

/** Runs every case's kernel on `backend`, returning outputs in order. */
async function runAll(backend: string, cases: Case[]) {
  await tf.setBackend(backend);
  return cases.map(({ kernel, inputs, attrs }) =>
    tf.tidy(() => {
      const tensors: Record<string, tf.Tensor> = {};
      for (const [name, { shape, data }] of Object.entries(inputs)) {
        tensors[name] = tf.tensor(data, shape);
      }
      const out = tf.engine().runKernel(
        kernel,
        tensors,
        attrs as tf.NamedAttrMap,
      ) as tf.Tensor;
      return { shape: out.shape, data: out.dataSync() as Float32Array };
    })
  );
}

function assertClose(actual: Data, expected: Data, label: string): void {
  assert.deepEqual(actual.shape, expected.shape, label);
  let scale = 1;
  for (const v of expected.data) scale = Math.max(scale, Math.abs(v));
  const tolerance = 2e-5 * scale;
  for (let i = 0; i < expected.data.length; i++) {
    const diff = Math.abs(actual.data[i] - expected.data[i]);
    if (!(diff <= tolerance)) {
      assert.fail(
        `${label}: entry ${i} is ${actual.data[i]}, expected ` +
          `${expected.data[i]} (tolerance ${tolerance})`,
      );
    }
  }
}

/** What the last {@linkcode checkAgainstCpu} enabled. */
let lastStatus: NativeKernelsStatus | undefined;

/** Checks `cases` natively on wasm against the cpu backend's kernels. */
async function checkAgainstCpu(
  cases: Case[],
  expectFallbacks = 0,
  options: NativeKernelOptions = {},
): Promise<void> {
  const expected = await runAll("cpu", cases);
  await tf.setBackend("wasm");
  const tensors = tf.memory().numTensors;
  const status = enableNativeKernels({ minMultiplyAdds: 0, ...options });
  lastStatus = status;
  assert.ok(status.enabled, status.reason);
  if (options.convolutions === "auto") {
    assert.match(status.convolutions ?? "", /^oneDNN/, "oneDNN computes");
  }
  try {
    const actual = await runAll("wasm", cases);
    cases.forEach((c, i) => assertClose(actual[i], expected[i], c.label));
    const calls = Object.values(nativeKernelsStatus().calls);
    const native = calls.reduce((sum, c) => sum + c.native, 0);
    const fallback = calls.reduce((sum, c) => sum + c.fallback, 0);
    assert.equal(fallback, expectFallbacks);
    assert.equal(native, cases.length - expectFallbacks);
  } finally {
    disableNativeKernels();
  }
  assert.equal(tf.memory().numTensors, tensors);
}

type Pad = string | number | number[][];
const PADS: Pad[] = [
  "valid",
  "same",
  1,
  [[0, 0], [1, 0], [2, 1], [0, 0]],
  [[0, 0], [3, 0], [0, 5], [0, 0]],
];
const SHAPES: [number[], number[]][] = [
  [[2, 7, 7, 3], [3, 3, 3, 4]],
  [[1, 9, 8, 1], [2, 3, 1, 5]],
  [[3, 6, 5, 9], [1, 1, 9, 6]],
  [[2, 10, 10, 8], [5, 5, 8, 3]],
  [[2, 6, 6, 2], [3, 3, 2, 24]],
];

/** Every shape, stride, pad and dilation the forward grid covers. */
function convGrid(withDilation: boolean) {
  const grid: {
    x: number[];
    f: number[];
    strides: number | number[];
    pad: Pad;
    dilations: number;
    dimRoundingMode?: string;
  }[] = [];
  for (const [x, f] of SHAPES) {
    for (const pad of PADS) {
      for (const strides of [1, 2, [2, 1]]) {
        grid.push({ x, f, strides, pad, dilations: 1 });
      }
      if (withDilation) grid.push({ x, f, strides: 1, pad, dilations: 2 });
    }
    grid.push({ x, f, strides: 2, pad: 0, dilations: 1 });
    const rounding = { x, f, strides: 2, pad: 1, dilations: 1 };
    grid.push({ ...rounding, dimRoundingMode: "ceil" });
  }
  return grid.filter(({ x, f, strides, pad, dilations, dimRoundingMode }) => {
    const info = tf.backend_util.computeConv2DInfo(
      x as [number, number, number, number],
      f as [number, number, number, number],
      strides as number,
      dilations,
      pad as "same",
      dimRoundingMode as "ceil",
    );
    return info.outHeight > 0 && info.outWidth > 0;
  });
}

function label(kernel: string, g: object): string {
  return `${kernel} ${JSON.stringify(g)}`;
}

Deno.test({
  name: `Conv2D natively matches the cpu kernel over a grid${skipped}`,
  ignore,
  fn: async () => {
    const cases = convGrid(true).map((g): Case => ({
      kernel: "Conv2D",
      inputs: { x: random(g.x), filter: random(g.f) },
      attrs: { ...g, dataFormat: "NHWC" },
      label: label("Conv2D", g),
    }));
    assert.ok(cases.length > 80);
    for (const convolutions of LIBRARIES) {
      await checkAgainstCpu(cases, 0, { convolutions });
    }
  },
});

Deno.test({
  name: `FusedConv2D natively matches the cpu kernel${skipped}`,
  ignore,
  fn: async () => {
    const activations = [
      "linear",
      "relu",
      "relu6",
      "leakyrelu",
      "sigmoid",
      "elu",
    ];
    const grid = convGrid(true);
    const cases = grid.map((g, i): Case => {
      const activation = activations[i % activations.length];
      const attrs = { ...g, activation, leakyreluAlpha: 0.3 };
      return {
        kernel: "FusedConv2D",
        inputs: {
          x: random(g.x),
          filter: random(g.f),
          bias: random([g.f[3]]),
        },
        attrs: { ...attrs, dataFormat: "NHWC" },
        label: label("FusedConv2D", attrs),
      };
    });
    const prelu: Case = {
      ...cases[0],
      inputs: { ...cases[0].inputs, preluActivationWeights: random([4]) },
      attrs: { ...cases[0].attrs, activation: "prelu" },
      label: "FusedConv2D with prelu falls back",
    };
    for (const convolutions of LIBRARIES) {
      await checkAgainstCpu([...cases, prelu], 1, { convolutions });
    }
  },
});

Deno.test({
  name: `Conv2DBackpropInput natively matches the cpu kernel${skipped}`,
  ignore,
  fn: async () => {
    const cases = convGrid(false).map((g): Case => {
      const info = tf.backend_util.computeConv2DInfo(
        g.x as [number, number, number, number],
        g.f as [number, number, number, number],
        g.strides as number,
        1,
        g.pad as "same",
        g.dimRoundingMode as "ceil",
      );
      return {
        kernel: "Conv2DBackpropInput",
        inputs: { dy: random(info.outShape), filter: random(g.f) },
        attrs: { ...g, inputShape: g.x, dataFormat: "NHWC" },
        label: label("Conv2DBackpropInput", g),
      };
    });
    for (const convolutions of LIBRARIES) {
      await checkAgainstCpu(cases, 0, { convolutions });
    }
  },
});

Deno.test({
  name: `Conv2DBackpropFilter natively matches the cpu kernel${skipped}`,
  ignore,
  fn: async () => {
    const cases = convGrid(false).map((g): Case => {
      const info = tf.backend_util.computeConv2DInfo(
        g.x as [number, number, number, number],
        g.f as [number, number, number, number],
        g.strides as number,
        1,
        g.pad as "same",
        g.dimRoundingMode as "ceil",
      );
      return {
        kernel: "Conv2DBackpropFilter",
        inputs: { x: random(g.x), dy: random(info.outShape) },
        attrs: { ...g, filterShape: g.f, dataFormat: "NHWC" },
        label: label("Conv2DBackpropFilter", g),
      };
    });
    for (const convolutions of LIBRARIES) {
      await checkAgainstCpu(cases, 0, { convolutions });
    }
  },
});

Deno.test({
  name: `FisherlabConvFilterRowNorms natively equals each row's own ` +
    `filter gradient on the cpu backend, squared and summed${skipped}`,
  ignore,
  fn: async () => {
    const grid = convGrid(false).filter((g) =>
      (g.pad === "same" || g.pad === "valid") && g.dimRoundingMode === undefined
    );
    // Expected: each row alone through the cpu backend's stock gradient.
    await tf.setBackend("cpu");
    const cases = grid.map((g) => {
      const x = random(g.x);
      const [kh, kw, cin, cout] = g.f;
      const strides = (typeof g.strides === "number"
        ? [g.strides, g.strides]
        : g.strides) as [number, number];
      const info = tf.backend_util.computeConv2DInfo(
        g.x as [number, number, number, number],
        g.f as [number, number, number, number],
        strides,
        1,
        g.pad as "same",
      );
      const dy = random(info.outShape);
      const expected = tf.tidy(() => {
        const xs = tf.tensor4d(x.data, g.x as [number, number, number, number]);
        const dys = tf.tensor(dy.data, info.outShape) as tf.Tensor4D;
        return Array.from({ length: g.x[0] }, (_, i) => {
          const xi = tf.slice(xs, i, 1);
          const dyi = tf.slice(dys, i, 1);
          const dw = tf.grad((w: tf.Tensor) =>
            tf.sum(tf.mul(
              tf.conv2d(xi, w as tf.Tensor4D, strides, g.pad as "same"),
              dyi,
            ))
          )(tf.zeros([kh, kw, cin, cout]));
          return tf.sum(tf.square(dw)).dataSync()[0];
        });
      });
      return { g, x, dy, strides, expected };
    });
    for (const convolutions of LIBRARIES) {
      await tf.setBackend("wasm");
      const tensors = tf.memory().numTensors;
      const status = enableNativeKernels({ minMultiplyAdds: 0, convolutions });
      assert.ok(status.enabled, status.reason);
      try {
        for (const { g, x, dy, strides, expected } of cases) {
          const actual = tf.tidy(() => {
            const out = convFilterRowNorms(
              tf.tensor(x.data, g.x),
              tf.tensor(dy.data, dy.shape),
              {
                filterSize: [g.f[0], g.f[1]],
                strides,
                padding: g.pad as "same",
              },
            );
            assert.ok(out, "the kernel is registered");
            return out.dataSync();
          });
          const where = `${convolutions} ${label("rows", g)}`;
          assert.equal(actual.length, expected.length, where);
          expected.forEach((e, i) =>
            assert.ok(
              Math.abs(actual[i] - e) <= 1e-4 * Math.max(1, e),
              `${where}: row ${i} is ${actual[i]}, expected ${e}`,
            )
          );
        }
        const calls = nativeKernelsStatus().calls.FisherlabConvFilterRowNorms;
        assert.equal(calls?.native, cases.length);
      } finally {
        disableNativeKernels();
      }
      assert.equal(tf.memory().numTensors, tensors);
    }
    // Without the pack the backend has no such kernel: callers use ops.
    tf.tidy(() => {
      const none = convFilterRowNorms(
        tf.ones([1, 3, 3, 1]),
        tf.ones([1, 3, 3, 1]),
        {
          filterSize: [1, 1],
          strides: [1, 1],
          padding: "same",
        },
      );
      assert.equal(none, undefined);
    });
  },
});

/** Shapes of a and b for a product m x k by k x n, with batch dims. */
function matMulCase(
  kernel: NativeKernelName,
  batchA: number[],
  batchB: number[],
  transposeA: boolean,
  transposeB: boolean,
  extra: Record<string, unknown> = {},
): Case {
  const [m, k, n] = [5, 7, 3];
  const a = [...batchA, ...(transposeA ? [k, m] : [m, k])];
  const b = [...batchB, ...(transposeB ? [n, k] : [k, n])];
  const attrs = { transposeA, transposeB, ...extra };
  const inputs: Record<string, Data> = { a: random(a), b: random(b) };
  if (kernel === "_FusedMatMul") inputs.bias = random([n]);
  return { kernel, inputs, attrs, label: label(kernel, { a, b, ...attrs }) };
}

Deno.test({
  name: `BatchMatMul natively matches the cpu kernel${skipped}`,
  ignore,
  fn: async () => {
    const batches = [[[], []], [[3], [3]], [[3], [1]], [[1], [4]], [
      [2, 3],
      [],
    ], [[], [2, 2]]];
    const cases: Case[] = [];
    for (const [batchA, batchB] of batches) {
      for (const tA of [false, true]) {
        for (const tB of [false, true]) {
          cases.push(matMulCase("BatchMatMul", batchA, batchB, tA, tB));
        }
      }
    }
    for (const products of PRODUCTS) {
      await checkAgainstCpu(cases, 0, { products });
      assert.match(
        lastStatus!.blasPath ?? "",
        products === "auto" ? /oneDNN/ : /blas/i,
      );
    }
  },
});

Deno.test({
  name: `_FusedMatMul natively matches the cpu kernel${skipped}`,
  ignore,
  fn: async () => {
    const activations = [
      "linear",
      "relu",
      "relu6",
      "leakyrelu",
      "sigmoid",
      "elu",
    ];
    const cases: Case[] = [];
    for (const activation of activations) {
      for (const tA of [false, true]) {
        for (const tB of [false, true]) {
          const extra = { activation, leakyreluAlpha: 0.2 };
          cases.push(matMulCase("_FusedMatMul", [2], [2], tA, tB, extra));
        }
      }
    }
    for (const products of PRODUCTS) {
      await checkAgainstCpu(cases, 0, { products });
      assert.match(
        lastStatus!.blasPath ?? "",
        products === "auto" ? /oneDNN/ : /blas/i,
      );
    }
  },
});

Deno.test({
  name: `Sum and Mean natively match the cpu kernels over leading and ` +
    `trailing axes${skipped}`,
  ignore,
  fn: async () => {
    const grid: [number[], number[]][] = [
      [[4, 5, 6, 3], [0]],
      [[4, 5, 6, 3], [0, 1, 2]],
      [[4, 5, 6, 3], [2, 3]],
      [[4, 5, 6, 3], [-1]],
      [[4, 5, 6, 3], [0, 1, 2, 3]],
      [[7, 9], [0]],
      [[7, 9], [1]],
      [[3, 1, 5], [1, 0]],
      // every axis: rows of the trailing axes, at least 64 wide if possible
      [[7, 9], [0, 1]],
      [[2, 40, 3], [2, 0, 1]],
      [[500, 3], [0, 1]],
      [[37], [0]],
    ];
    const cases: Case[] = [];
    for (const [shape, axis] of grid) {
      for (const keepDims of [false, true]) {
        for (const kernel of ["Sum", "Mean"] as const) {
          cases.push({
            kernel,
            inputs: { x: random(shape) },
            attrs: { axis, keepDims },
            label: label(kernel, { shape, axis, keepDims }),
          });
        }
      }
    }
    // No axis (tf.sum(x)): every axis.
    for (const kernel of ["Sum", "Mean"] as const) {
      cases.push({
        kernel,
        inputs: { x: random([30, 8, 5]) },
        attrs: { axis: null, keepDims: false },
        label: `${kernel} without an axis`,
      });
    }
    // Middle axes (fisherlab's wasm kernel) and axes with a gap go to the
    // kernel registered before.
    const fallbacks: Case[] = [];
    for (const [shape, axis] of [[[4, 5, 8], [1]], [[4, 5, 8], [0, 2]]]) {
      for (const kernel of ["Sum", "Mean"] as const) {
        fallbacks.push({
          kernel,
          inputs: { x: random(shape) },
          attrs: { axis, keepDims: false },
          label: `${kernel} over ${axis} of [${shape}] falls back`,
        });
      }
    }
    await checkAgainstCpu([...cases, ...fallbacks], fallbacks.length);
  },
});

Deno.test({
  name: `Slice natively matches the cpu kernel for ranks 1 to 6${skipped}`,
  ignore,
  fn: async () => {
    const grid: [number[], number[], number[]][] = [
      [[10], [3], [5]],
      [[6, 7], [1, 0], [4, 7]],
      [[6, 7], [2, 3], [3, 2]],
      [[4, 5, 6], [1, 2, 0], [2, 3, 6]],
      [[3, 4, 5, 6], [0, 1, 2, 3], [3, 2, 2, 3]],
      [[3, 4, 5, 6], [1, 0, 0, 0], [2, 4, 5, 6]],
      [[2, 3, 2, 3, 2, 4], [0, 1, 1, 0, 1, 0], [2, 2, 1, 3, 1, 4]],
      [[2, 3, 2, 3, 2, 4], [1, 0, 0, 1, 0, 1], [1, 3, 2, 2, 1, 2]],
    ];
    const cases = grid.map(([shape, begin, size]): Case => ({
      kernel: "Slice",
      inputs: { x: random(shape) },
      attrs: { begin, size },
      label: label("Slice", { shape, begin, size }),
    }));
    await checkAgainstCpu(cases);
  },
});

Deno.test({
  name: `Slice natively copies int32 and bool tensors exactly${skipped}`,
  ignore,
  fn: () => {
    enableNativeKernels({ minMultiplyAdds: 0 });
    const ints = tf.tidy(() =>
      tf.slice(tf.range(0, 24, 1, "int32").reshape([2, 3, 4]), [1, 1, 1], [
        1,
        2,
        2,
      ]).arraySync()
    );
    const bools = tf.tidy(() =>
      tf.slice(tf.tensor([true, false, true, true], [2, 2], "bool"), [0, 1], [
        2,
        1,
      ]).arraySync()
    );
    const calls = nativeKernelsStatus().calls.Slice;
    disableNativeKernels();
    assert.deepEqual(ints, [[[17, 18], [21, 22]]]);
    assert.deepEqual(bools, [[0], [1]]);
    assert.deepEqual(counts(calls), { native: 2, fallback: 0 });
  },
});

Deno.test({
  name: `Identity natively shares data and frees it with the last ` +
    `tensor${skipped}`,
  ignore,
  fn: () => {
    enableNativeKernels();
    const tensors = tf.memory().numTensors;
    const dataIds = tf.backend().numDataIds();
    const x = tf.tensor([1, 2, 3, 4], [2, 2]);
    const y = tf.clone(x);
    const ints = tf.tensor([5, 6], [2], "int32");
    const n = tf.clone(ints);
    assert.equal(tf.backend().numDataIds(), dataIds + 2);
    tf.dispose([x, ints]);
    assert.deepEqual([...y.dataSync()], [1, 2, 3, 4]);
    assert.deepEqual([...n.dataSync()], [5, 6]);
    tf.dispose([y, n]);
    const calls = nativeKernelsStatus().calls.Identity;
    disableNativeKernels();
    assert.equal(tf.memory().numTensors, tensors);
    assert.equal(tf.backend().numDataIds(), dataIds);
    assert.deepEqual(counts(calls), { native: 2, fallback: 0 });
  },
});

Deno.test({
  name: `native kernels fall back for what they do not handle${skipped}`,
  ignore,
  fn: () => {
    enableNativeKernels();
    const small = tf.tidy(() =>
      tf.matMul(tf.ones([2, 2]), tf.ones([2, 2])).dataSync()
    );
    const conv = tf.tidy(() =>
      tf.conv2d(
        tf.ones([1, 4, 4, 1]) as tf.Tensor4D,
        tf.ones([1, 1, 1, 1]) as tf.Tensor4D,
        1,
        0,
      )
        .shape
    );
    const calls = nativeKernelsStatus().calls;
    disableNativeKernels();
    assert.deepEqual([...small], [2, 2, 2, 2]);
    assert.deepEqual(conv, [1, 4, 4, 1]);
    assert.deepEqual(counts(calls.BatchMatMul), { native: 0, fallback: 1 });
    assert.deepEqual(counts(calls.Conv2D), { native: 0, fallback: 1 });
  },
});

Deno.test({
  name: `disableNativeKernels() restores the original kernels${skipped}`,
  ignore,
  fn: () => {
    const before = tf.getKernel("Conv2D", "wasm");
    const sumBefore = tf.getKernel("Sum", "wasm");
    const status = enableNativeKernels();
    // The training-mode batch norm kernels are oneDNN's alone.
    const expected = NATIVE_KERNELS.filter((k) =>
      dnnlFound.available || !k.startsWith("FisherlabBatchNorm")
    );
    assert.deepEqual(status.kernels, expected);
    assert.notEqual(tf.getKernel("Conv2D", "wasm"), before);
    disableNativeKernels();
    assert.equal(tf.getKernel("Conv2D", "wasm"), before);
    assert.equal(nativeKernelsStatus().enabled, false);

    const some = enableNativeKernels({ kernels: ["Conv2D"] });
    assert.deepEqual(some.kernels, ["Conv2D"]);
    assert.equal(tf.getKernel("Sum", "wasm"), sumBefore);
    disableNativeKernels();
    assert.throws(
      () => enableNativeKernels({ kernels: ["Conv3D" as NativeKernelName] }),
      /Cannot enable native kernel "Conv3D": it is not in this pack/,
    );
  },
});

Deno.test({
  name: `convolutions split into chunks match the cpu kernels${skipped}`,
  ignore,
  fn: async () => {
    const g = { x: [5, 8, 7, 3], f: [3, 3, 3, 4], strides: 1, pad: "same" };
    const attrs = { ...g, dilations: 1, dataFormat: "NHWC" };
    const dy = random([5, 8, 7, 4]);
    const cases: Case[] = [
      {
        kernel: "Conv2D",
        inputs: { x: random(g.x), filter: random(g.f) },
        attrs,
        label: "chunked Conv2D",
      },
      {
        kernel: "Conv2DBackpropInput",
        inputs: { dy, filter: random(g.f) },
        attrs: { ...attrs, inputShape: g.x },
        label: "chunked Conv2DBackpropInput",
      },
      {
        kernel: "Conv2DBackpropFilter",
        inputs: { x: random(g.x), dy },
        attrs: { ...attrs, filterShape: g.f },
        label: "chunked Conv2DBackpropFilter",
      },
    ];
    // One image's column matrix is 56 x 27 floats: 8 KiB gives 1 image a
    // chunk, so every kernel runs in 5 chunks.
    await checkAgainstCpu(cases, 0, {
      scratchBytes: 8192,
      columnCacheBytes: 0,
      convolutions: "blas",
    });
  },
});

/** A small conv net: conv same, relu, conv stride 2, relu, dense. */
function convNet(x: tf.Tensor4D, w: tf.Variable[]): tf.Tensor {
  const h1 = tf.relu(tf.conv2d(x, w[0] as tf.Tensor4D, 1, "same"));
  const h2 = tf.relu(tf.conv2d(h1, w[1] as tf.Tensor4D, 2, "valid"));
  return tf.matMul(tf.reshape(h2, [x.shape[0], -1]), w[2]);
}

function netFixture() {
  const x = tf.tensor(random([4, 9, 9, 2]).data, [4, 9, 9, 2]) as tf.Tensor4D;
  const shapes = [[3, 3, 2, 6], [3, 3, 6, 5], [80, 3]];
  const w = shapes.map((s, i) =>
    tf.variable(tf.tensor(random(s).data, s), true, `native_w${i}`)
  );
  const loss = () => tf.sum(tf.square(convNet(x, w))) as tf.Scalar;
  return { x, w, loss };
}

async function gradientsOn(
  backend: string,
  native: boolean,
  convolutions: "auto" | "blas" = "auto",
) {
  await tf.setBackend(backend);
  const { x, w, loss } = netFixture();
  if (native) enableNativeKernels({ minMultiplyAdds: 0, convolutions });
  const tensors = tf.memory().numTensors;
  const dataIds = tf.backend().numDataIds();
  const grads = tf.tidy(() => {
    const { grads } = valueAndGrads(loss, w);
    return grads.map((g) => ({
      shape: g.shape,
      data: g.dataSync() as Float32Array,
    }));
  });
  const firstOrderHits = nativeKernelsStatus().columnHits;
  const hvp = tf.getGradient("Conv2DBackpropFilter") === undefined
    ? undefined
    : tf.tidy(() =>
      hessianVectorProduct(loss, w, w.map((v) => tf.onesLike(v))).map((
        g,
      ) => ({ shape: g.shape, data: g.dataSync() as Float32Array }))
    );
  const leaked = tf.memory().numTensors - tensors;
  const leakedData = tf.backend().numDataIds() - dataIds;
  const { calls } = nativeKernelsStatus();
  disableNativeKernels();
  tf.dispose([x, ...w]);
  return { grads, hvp, leaked, leakedData, calls, firstOrderHits };
}

Deno.test({
  name: `a conv net's gradients match with and without native kernels, ` +
    `without leaks${skipped}`,
  ignore,
  fn: async () => {
    const saved = seed;
    const expected = await gradientsOn("cpu", false);
    seed = saved;
    for (const convolutions of LIBRARIES) {
      seed = saved;
      const actual = await gradientsOn("wasm", true, convolutions);
      assert.equal(actual.leaked, 0);
      assert.equal(actual.leakedData, 0);
      for (
        const k of ["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"]
      ) {
        const calls = actual.calls[k as NativeKernelName];
        assert.ok(calls && calls.native > 0, `${k} ran natively`);
      }
      if (convolutions === "blas") {
        assert.equal(
          actual.firstOrderHits,
          2,
          "filter gradients reused im2col",
        );
      }
      actual.grads.forEach((g, i) =>
        assertClose(g, expected.grads[i], `${convolutions}: d${i}`)
      );
    }
  },
});

const noSecondOrder = tf.getGradient("Conv2DBackpropFilter") === undefined;

Deno.test({
  name: `a conv net's Hessian-vector product matches with native kernels` +
    (noSecondOrder
      ? " (skipped: no gradient is registered for Conv2DBackpropFilter)"
      : skipped),
  ignore: ignore || noSecondOrder,
  fn: async () => {
    const saved = seed;
    const expected = await gradientsOn("cpu", false);
    seed = saved;
    const actual = await gradientsOn("wasm", true);
    assert.equal(actual.leaked, 0);
    assert.ok(expected.hvp && actual.hvp);
    actual.hvp.forEach((g, i) => assertClose(g, expected.hvp![i], `Hv${i}`));
  },
});

/** `data` with NaN, infinities and signed zeros spread through it. */
function withSpecials(d: Data): Data {
  const data = d.data.slice();
  const specials = [NaN, -0, Infinity, 0, -Infinity];
  for (let i = 0; i < data.length; i += 7) data[i] = specials[i % 5];
  return { shape: d.shape, data };
}

function boolData(shape: number[]): Data {
  const r = random(shape);
  return { shape, data: r.data.map((v) => v > 0 ? 1 : 0) };
}

/** Runs `kernel` on wasm with the pack forced on, and on cpu. */
async function bothWays(
  kernel: string,
  inputs: Record<string, { data: Data; dtype: tf.DataType }>,
  attrs: Record<string, unknown> = {},
) {
  const run = () =>
    tf.tidy(() => {
      const tensors: Record<string, tf.Tensor> = {};
      for (const [name, { data, dtype }] of Object.entries(inputs)) {
        tensors[name] = tf.tensor(data.data, data.shape, dtype);
      }
      const out = tf.engine().runKernel(
        kernel,
        tensors,
        attrs as tf.NamedAttrMap,
      ) as tf.Tensor;
      return { shape: out.shape, dtype: out.dtype, data: out.dataSync() };
    });
  await tf.setBackend("cpu");
  const expected = run();
  await tf.setBackend("wasm");
  enableNativeKernels({ minMultiplyAdds: 0 });
  try {
    const actual = run();
    const calls = nativeKernelsStatus().calls[kernel as NativeKernelName];
    return { actual, expected, native: calls?.native ?? 0 };
  } finally {
    disableNativeKernels();
  }
}

/** The call counts of a kernel, without its timings. */
function counts(calls: KernelCalls | undefined) {
  return { native: calls?.native, fallback: calls?.fallback };
}

function assertIdentical(
  actual: { shape: number[]; dtype: string; data: ArrayLike<number> },
  expected: { shape: number[]; dtype: string; data: ArrayLike<number> },
  label: string,
): void {
  assert.deepEqual(actual.shape, expected.shape, label);
  assert.equal(actual.dtype, expected.dtype, label);
  for (let i = 0; i < expected.data.length; i++) {
    if (!Object.is(actual.data[i], expected.data[i])) {
      assert.fail(
        `${label}: entry ${i} is ${actual.data[i]}, expected ` +
          `${expected.data[i]}`,
      );
    }
  }
}

const ELEMENTWISE_SHAPES = [[7], [3, 5], [2, 6, 5, 3], [1, 1, 1, 1]];

Deno.test({
  name: `Select natively keeps every bit of the chosen values${skipped}`,
  ignore,
  fn: async () => {
    for (const shape of ELEMENTWISE_SHAPES) {
      for (const dtype of ["float32", "int32"] as const) {
        const values = (d: Data) =>
          dtype === "float32" ? withSpecials(d) : {
            shape,
            data: d.data.map((v) => Math.round(v * 1000)),
          };
        const r = await bothWays("Select", {
          condition: { data: boolData(shape), dtype: "bool" },
          t: { data: values(random(shape)), dtype },
          e: { data: values(random(shape)), dtype },
        });
        assertIdentical(r.actual, r.expected, `Select ${shape} ${dtype}`);
        assert.equal(r.native, 1, `Select ${shape} ${dtype} ran natively`);
      }
    }
    const rows = await bothWays("Select", {
      condition: { data: boolData([3]), dtype: "bool" },
      t: { data: random([3, 4]), dtype: "float32" },
      e: { data: random([3, 4]), dtype: "float32" },
    });
    assertIdentical(rows.actual, rows.expected, "Select by rows");
    assert.equal(rows.native, 0, "Select by rows falls back");
  },
});

Deno.test({
  name: `Greater natively matches the cpu kernel, NaN included${skipped}`,
  ignore,
  fn: async () => {
    for (const shape of ELEMENTWISE_SHAPES) {
      const a = withSpecials(random(shape));
      const b = random(shape);
      b.data[0] = a.data[0]; // a tie
      const r = await bothWays("Greater", {
        a: { data: a, dtype: "float32" },
        b: { data: withSpecials(b), dtype: "float32" },
      });
      assertIdentical(r.actual, r.expected, `Greater ${shape}`);
      assert.equal(r.native, 1, `Greater ${shape} ran natively`);
    }
    const broadcast = await bothWays("Greater", {
      a: { data: random([3, 4]), dtype: "float32" },
      b: { data: random([4]), dtype: "float32" },
    });
    assertIdentical(broadcast.actual, broadcast.expected, "Greater, broadcast");
    assert.equal(broadcast.native, 0, "Greater with broadcasting falls back");
  },
});

Deno.test({
  name: `PadV2 natively matches the cpu kernel for ranks 1 to 5${skipped}`,
  ignore,
  fn: async () => {
    const grid: [number[], [number, number][]][] = [
      [[5], [[2, 3]]],
      [[3, 4], [[0, 0], [1, 2]]],
      [[3, 4], [[2, 0], [0, 0]]],
      [[2, 5, 4, 3], [[0, 0], [0, 2], [0, 2], [0, 0]]],
      [[2, 5, 4, 3], [[1, 0], [3, 1], [0, 0], [2, 2]]],
      [[2, 3, 2, 3, 2], [[0, 1], [1, 0], [0, 0], [2, 1], [0, 0]]],
      [[2, 6, 5, 4], [[0, 0], [1, 1], [0, 0], [0, 0]]],
      [[2, 3], [[0, 0], [0, 0]]],
    ];
    for (const [shape, paddings] of grid) {
      for (const dtype of ["float32", "int32"] as const) {
        const x = dtype === "float32" ? withSpecials(random(shape)) : {
          shape,
          data: random(shape).data.map((v) => Math.round(v * 1000)),
        };
        const constantValue = dtype === "float32" ? -Infinity : -7;
        const r = await bothWays(
          "PadV2",
          { x: { data: x, dtype } },
          { paddings, constantValue },
        );
        const label = `PadV2 ${shape} ${JSON.stringify(paddings)} ${dtype}`;
        assertIdentical(r.actual, r.expected, label);
        assert.equal(r.native, 1, `${label} ran natively`);
      }
    }
  },
});

/** conv same, relu, 2x2 max pool, dense: max pooling's second order. */
function poolNet(x: tf.Tensor4D, w: tf.Variable[]): tf.Tensor {
  const h = tf.relu(tf.conv2d(x, w[0] as tf.Tensor4D, 1, "same"));
  const p = tf.maxPool(h, 2, 2, "valid");
  return tf.matMul(tf.reshape(p, [x.shape[0], -1]), w[1]);
}

async function poolNetOn(backend: string, native: boolean) {
  await tf.setBackend(backend);
  let s = 3;
  const data = (shape: number[]) =>
    tf.tensor(
      Float32Array.from(
        { length: tf.util.sizeFromShape(shape) },
        () => (s = (s * 1103515245 + 12345) % 2147483648) / 2 ** 30 - 1,
      ),
      shape,
    );
  const x = data([3, 8, 8, 2]) as tf.Tensor4D;
  const w = [[3, 3, 2, 4], [64, 3]].map((shape) => tf.variable(data(shape)));
  const loss = () => tf.sum(tf.square(poolNet(x, w))) as tf.Scalar;
  if (native) enableNativeKernels({ minMultiplyAdds: 0 });
  const read = (ts: tf.Tensor[]) =>
    ts.map((g) => ({ shape: g.shape, data: g.dataSync() as Float32Array }));
  try {
    const hvp = tf.tidy(() =>
      read(hessianVectorProduct(loss, w, w.map((v) => tf.onesLike(v))))
    );
    const penalty = tf.tidy(() =>
      read(
        valueAndGrads(() => {
          const g = valueAndGrads(loss, w).grads;
          return tf.addN(g.map((t) => tf.sum(tf.square(t)))) as tf.Scalar;
        }, w).grads,
      )
    );
    return { hvp, penalty, calls: nativeKernelsStatus().calls };
  } finally {
    disableNativeKernels();
    tf.dispose([x, ...w]);
  }
}

Deno.test({
  name: `a max-pooling net's H v and Fisher-penalty gradient match with ` +
    `native kernels${skipped}`,
  ignore,
  fn: async () => {
    const expected = await poolNetOn("cpu", false);
    const actual = await poolNetOn("wasm", true);
    actual.hvp.forEach((g, i) => assertClose(g, expected.hvp[i], `Hv${i}`));
    actual.penalty.forEach((g, i) =>
      assertClose(g, expected.penalty[i], `d||g||^2/dw${i}`)
    );
    const kernels = ["FisherlabPickAtArgmax", "MaxPoolGrad"];
    for (const k of kernels as NativeKernelName[]) {
      assert.ok((actual.calls[k]?.native ?? 0) > 0, `${k} ran natively`);
    }
  },
});

Deno.test({
  name: `Cast natively shares data for the same dtype and converts as ` +
    `wasm otherwise${skipped}`,
  ignore,
  fn: async () => {
    const shape = [2, 3, 4];
    for (const dtype of ["float32", "int32", "bool"] as const) {
      const data = dtype === "float32"
        ? withSpecials(random(shape))
        : boolData(shape);
      for (const to of ["float32", "int32", "bool"] as const) {
        if (dtype === "float32" && to !== "float32") continue;
        const r = await bothWays("Cast", { x: { data, dtype } }, {
          dtype: to,
        });
        const label = `Cast ${dtype} to ${to}`;
        assertIdentical(r.actual, r.expected, label);
        assert.equal(r.native, dtype === to ? 1 : 0, `${label} natively`);
      }
    }
    await tf.setBackend("wasm");
    enableNativeKernels({ minMultiplyAdds: 0 });
    try {
      const dataIds = tf.backend().numDataIds();
      const x = tf.tensor([1.5, -2], [2]);
      const y = tf.cast(x, "float32");
      x.dispose();
      assert.deepEqual(Array.from(y.dataSync()), [1.5, -2]);
      assert.equal(tf.backend().numDataIds(), dataIds + 1, "data shared");
      y.dispose();
      assert.equal(tf.backend().numDataIds(), dataIds, "data freed");
    } finally {
      disableNativeKernels();
    }
  },
});

Deno.test({
  name: `MaxPoolGrad and its transpose natively route dy and pick u ` +
    `exactly as the cpu kernels, ties, NaN and infinities included${skipped}`,
  ignore,
  fn: async () => {
    const grid: [number[], number, number, string, boolean][] = [
      [[2, 6, 8, 4], 2, 2, "valid", true],
      [[3, 4, 4, 32], 2, 2, "same", true],
      [[1, 10, 2, 8], 2, 2, "valid", true],
      [[2, 6, 8, 3], 2, 2, "valid", false], // channels not a multiple of 4
      [[2, 7, 8, 4], 2, 2, "valid", false], // an odd height: not tiled
      [[2, 6, 8, 4], 3, 2, "same", false],
      [[2, 6, 8, 4], 2, 1, "valid", false],
    ];
    for (const [shape, filterSize, strides, pad, native] of grid) {
      for (const rounded of [false, true]) {
        const xs = withSpecials(random(shape));
        // Rounded values tie often, and zeros fill whole windows.
        if (rounded) xs.data.forEach((v, i) => xs.data[i] = Math.round(v));
        const y = await bothWays("MaxPool", {
          x: { data: xs, dtype: "float32" },
        }, {
          filterSize,
          strides,
          pad,
        });
        const dy = random(y.expected.shape);
        dy.data[1] = -0;
        const r = await bothWays("MaxPoolGrad", {
          dy: { data: dy, dtype: "float32" },
          input: { data: xs, dtype: "float32" },
          output: {
            data: {
              shape: y.expected.shape,
              data: y.expected.data as Float32Array,
            },
            dtype: "float32",
          },
        }, { filterSize, strides, pad });
        const label = `MaxPoolGrad ${shape} ${filterSize} ${strides} ${pad} ` +
          `${rounded}`;
        assertIdentical(r.actual, r.expected, label);
        assert.equal(r.native, native ? 1 : 0, `${label} natively`);
        // Its transpose, the derivative of MaxPoolGrad in dy.
        const u = withSpecials(random(shape));
        u.data[2] = -0;
        const picked = await bothWays("FisherlabPickAtArgmax", {
          x: { data: xs, dtype: "float32" },
          u: { data: u, dtype: "float32" },
        }, { filterSize, strides, pad });
        assertIdentical(picked.actual, picked.expected, `pick: ${label}`);
        assert.equal(
          picked.native,
          native ? 1 : 0,
          `pick: ${label} natively`,
        );
      }
    }
  },
});

Deno.test({
  name: `native calls account their time, and the BLAS's share of it${skipped}`,
  ignore,
  fn: async () => {
    await useBackend("wasm", { native: "off" });
    enableNativeKernels({ minMultiplyAdds: 0 });
    try {
      tf.tidy(() => {
        const x = tf.randomNormal([8, 12, 12, 16], 0, 1, "float32", 1);
        const w = tf.variable(
          tf.randomNormal([3, 3, 16, 8], 0, 1, "float32", 2),
        );
        tf.grad((f: tf.Tensor) =>
          tf.sum(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, "same"))
        )(w);
        tf.sum(tf.slice(x, [0, 0, 0, 0], [8, 6, 12, 16])).dataSync();
        w.dispose();
      });
      const calls = nativeKernelsStatus().calls;
      for (const name of ["Conv2D", "Conv2DBackpropFilter"] as const) {
        const c = calls[name]!;
        assert.ok(c.native > 0, `${name} ran natively`);
        assert.ok(c.blasMs > 0, `${name}: time in the BLAS counted`);
        assert.ok(c.blasMs <= c.ms, `${name}: BLAS time within the call's`);
      }
      // Slice calls no BLAS: its time counts, its BLAS time stays zero.
      assert.ok(calls.Slice!.native > 0 && calls.Slice!.ms > 0);
      assert.equal(calls.Slice!.blasMs, 0);
    } finally {
      disableNativeKernels();
    }
  },
});

Deno.test({
  name: `enableNativeKernels() multiplies with oneDNN's sgemm when it ` +
    `loads, with the BLAS when asked, and refuses other choices${skipped}`,
  ignore,
  fn: () => {
    const auto = enableNativeKernels();
    assert.match(
      auto.blasPath ?? "",
      dnnlFound.available ? /oneDNN .* sgemm/ : /blas/i,
    );
    const blas = enableNativeKernels({ products: "blas" });
    assert.equal(blas.blasPath, found.available ? found.blas.path : "");
    disableNativeKernels();
    assert.throws(
      () => enableNativeKernels({ products: "mkl" as "blas" }),
      /Cannot enable native kernels: products is "mkl"; choose "auto" or "blas"/,
    );
    assert.equal(nativeKernelsStatus().enabled, false);
  },
});
