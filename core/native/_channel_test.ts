import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import { useBackend } from "../backend.ts";
import { hessianVectorProduct, valueAndGrads } from "../functional.ts";
import { loadBlas } from "./blas.ts";
import { loadDnnl } from "./dnnl.ts";
import { planBinary } from "./_channel.ts";
import {
  disableNativeKernels,
  enableNativeKernels,
  type NativeKernelName,
  nativeKernelsStatus,
} from "./kernels.ts";

const blasFound = loadBlas();
const dnnlFound = loadDnnl();
const ignore = !blasFound.available || !dnnlFound.available;
const skipped = !blasFound.available
  ? ` (skipped: ${blasFound.reason})`
  : !dnnlFound.available
  ? ` (skipped: ${dnnlFound.reason})`
  : "";

await useBackend("cpu");
await useBackend("wasm");

let seed = 7;
function random(shape: number[]): Float32Array {
  const data = new Float32Array(tf.util.sizeFromShape(shape));
  for (let i = 0; i < data.length; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    data[i] = seed / 1073741824 - 1;
  }
  return data;
}

/** `data` with NaN, infinities and signed zeros spread through it. */
function withSpecials(data: Float32Array): Float32Array {
  const out = data.slice();
  const specials = [NaN, -0, Infinity, 0, -Infinity];
  for (let i = 0; i < out.length; i += 7) out[i] = specials[i % 5];
  return out;
}

type Inputs = Record<string, { shape: number[]; data: Float32Array }>;

/** `kernel` on cpu, and on wasm with the pack on: outputs, native calls. */
async function bothWays(
  kernel: NativeKernelName,
  inputs: Inputs,
  attrs: Record<string, unknown> = {},
) {
  const run = () =>
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
    });
  await tf.setBackend("cpu");
  const expected = run();
  await tf.setBackend("wasm");
  const before = tf.memory().numTensors;
  enableNativeKernels({ minMultiplyAdds: 0 });
  try {
    const actual = run();
    const native = nativeKernelsStatus().calls[kernel]?.native ?? 0;
    assert.equal(tf.memory().numTensors, before, `${kernel} leaks no tensor`);
    return { actual, expected, native };
  } finally {
    disableNativeKernels();
  }
}

function assertIdentical(
  actual: { shape: number[]; data: Float32Array },
  expected: { shape: number[]; data: Float32Array },
  label: string,
): void {
  assert.deepEqual(actual.shape, expected.shape, label);
  for (let i = 0; i < expected.data.length; i++) {
    if (!Object.is(actual.data[i], expected.data[i])) {
      assert.fail(
        `${label}: entry ${i} is ${actual.data[i]}, expected ` +
          `${expected.data[i]}`,
      );
    }
  }
}

function maxRelErr(actual: ArrayLike<number>, expected: ArrayLike<number>) {
  let scale = 0;
  let err = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]));
    err = Math.max(err, Math.abs(actual[i] - expected[i]));
  }
  return err / Math.max(scale, 1e-30);
}

Deno.test("planBinary: same shapes, trailing rows, scalars, swaps", () => {
  assert.deepEqual(planBinary([4, 8, 8, 16], [4, 8, 8, 16], false), {
    rows: 16,
    cols: 256,
    b: "same",
    swap: false,
    tile: 1,
  });
  // A channel vector is tiled until a row is 256 wide.
  assert.deepEqual(planBinary([4, 8, 8, 16], [1, 1, 1, 16], false), {
    rows: 16,
    cols: 256,
    b: "row",
    swap: false,
    tile: 16,
  });
  // ... as far as the rows divide.
  assert.deepEqual(planBinary([3, 5, 16], [16], false), {
    rows: 15,
    cols: 16,
    b: "row",
    swap: false,
    tile: 1,
  });
  assert.deepEqual(planBinary([4, 8, 8, 16], [8, 16], false)?.tile, 2);
  assert.equal(planBinary([4, 8, 8, 16], [], false)?.b, "scalar");
  assert.equal(planBinary([4, 8, 8, 16], [1, 1], false)?.b, "scalar");
  assert.equal(planBinary([16], [4, 8, 8, 16], false), undefined);
  assert.equal(planBinary([16], [4, 8, 8, 16], true)?.swap, true);
  // Broadcasting along a leading axis, or on both sides, is not handled.
  assert.equal(planBinary([4, 8, 8, 16], [4, 1, 1, 1], true), undefined);
  assert.equal(planBinary([4, 1, 16], [1, 8, 16], true), undefined);
  // Rows too short to vectorize.
  assert.equal(planBinary([5, 3], [5, 3], false), undefined);
  assert.equal(planBinary([5, 3], [3], false), undefined);
});

const FULL = [4, 8, 8, 16];

Deno.test({
  name: `Multiply, Add, Sub, RealDiv natively equal the cpu kernels bit for ` +
    `bit, broadcast included${skipped}`,
  ignore,
  fn: async () => {
    const cases: [number[], number[], boolean][] = [
      [FULL, FULL, true],
      [FULL, [16], true],
      [FULL, [1, 1, 1, 16], true],
      [FULL, [8, 16], true],
      [[4, 8, 8, 3], [3], true], // tiled to 384 wide
      [FULL, [], true],
      [[16], FULL, true], // native for Multiply and Add only
      [FULL, [4, 1, 1, 1], false], // not handled: falls back
    ];
    const ops: [NativeKernelName, boolean][] = [
      ["Multiply", true],
      ["Add", true],
      ["Sub", false],
      ["RealDiv", false],
    ];
    for (const [kernel, commutative] of ops) {
      for (const [aShape, bShape, handled] of cases) {
        const b = random(bShape);
        b[0] = 0; // a division by zero and a product with -0, Infinity
        const r = await bothWays(kernel, {
          a: { shape: aShape, data: withSpecials(random(aShape)) },
          b: { shape: bShape, data: b },
        });
        const label = `${kernel} ${aShape} by ${bShape}`;
        assertIdentical(r.actual, r.expected, label);
        const native = handled && (aShape.length >= bShape.length ||
          commutative);
        assert.equal(r.native, native ? 1 : 0, `${label} natively`);
      }
    }
  },
});

Deno.test({
  name: `Neg and Square natively equal the cpu kernels bit for bit${skipped}`,
  ignore,
  fn: async () => {
    for (const kernel of ["Neg", "Square"] as const) {
      const r = await bothWays(kernel, {
        x: { shape: FULL, data: withSpecials(random(FULL)) },
      });
      assertIdentical(r.actual, r.expected, kernel);
      assert.equal(r.native, 1, `${kernel} natively`);
    }
  },
});

Deno.test({
  name: `FusedBatchNorm natively matches the cpu kernel, with and without ` +
    `scale and offset${skipped}`,
  ignore,
  fn: async () => {
    const c = 12;
    const shape = [3, 5, 7, c];
    const positive = (d: Float32Array) => d.map((v) => v * v + 0.1);
    const variants: [string, Inputs, boolean][] = [
      ["all per channel", {
        x: { shape, data: random(shape) },
        mean: { shape: [c], data: random([c]) },
        variance: { shape: [c], data: positive(random([c])) },
        offset: { shape: [c], data: random([c]) },
        scale: { shape: [c], data: random([c]) },
      }, true],
      ["no scale or offset", {
        x: { shape, data: random(shape) },
        mean: { shape: [c], data: random([c]) },
        variance: { shape: [c], data: positive(random([c])) },
      }, true],
      ["4-D statistics", {
        x: { shape, data: random(shape) },
        mean: { shape: [1, 1, 1, c], data: random([c]) },
        variance: { shape: [1, 1, 1, c], data: positive(random([c])) },
        scale: { shape: [1, 1, 1, c], data: random([c]) },
      }, true],
      ["one mean and variance for all channels", {
        x: { shape, data: random(shape) },
        mean: { shape: [1], data: random([1]) },
        variance: { shape: [1], data: positive(random([1])) },
        offset: { shape: [1], data: random([1]) },
      }, true],
      ["statistics that cycle: not handled", {
        x: { shape, data: random(shape) },
        mean: { shape: [3], data: random([3]) },
        variance: { shape: [3], data: positive(random([3])) },
      }, false],
    ];
    for (const [label, inputs, handled] of variants) {
      for (const varianceEpsilon of [1e-3, 0.5]) {
        const r = await bothWays("FusedBatchNorm", inputs, {
          varianceEpsilon,
        });
        assert.deepEqual(r.actual.shape, r.expected.shape);
        const err = maxRelErr(r.actual.data, r.expected.data);
        assert.ok(err < 2e-6, `${label}, eps ${varianceEpsilon}: ${err}`);
        assert.equal(r.native, handled ? 1 : 0, `${label} natively`);
      }
    }
  },
});

Deno.test({
  name: `Sum and Mean over leading axes natively: float64-accurate column ` +
    `sums${skipped}`,
  ignore,
  fn: async () => {
    const grid: [number[], number[]][] = [
      [[8, 16, 16, 16], [0, 1, 2]],
      [[8, 16, 16, 3], [0, 1, 2]], // 3 columns, paired up to 96
      [[7, 5], [0]], // 5 columns: the BLAS path
      [[6, 10, 64], [0, 1]],
    ];
    for (const [shape, axis] of grid) {
      for (const kernel of ["Sum", "Mean"] as const) {
        const data = random(shape);
        const r = await bothWays(kernel, { x: { shape, data } }, {
          axis,
          keepDims: false,
        });
        const cols = tf.util.sizeFromShape(shape.slice(axis.length));
        const rows = data.length / cols;
        const exact = new Float64Array(cols);
        for (let i = 0; i < data.length; i++) exact[i % cols] += data[i];
        if (kernel === "Mean") exact.forEach((v, j) => exact[j] = v / rows);
        const label = `${kernel} ${shape} over ${axis}`;
        assert.equal(r.actual.data.length, cols, label);
        const err = maxRelErr(r.actual.data, exact);
        assert.ok(err < 1e-6, `${label}: relative error ${err}`);
        assert.equal(r.native, 1, `${label} natively`);
      }
    }
    // A million equal terms: a float32 running sum is 1% off (105891.8
    // for 104857.6); blocks added in float64 are not.
    const shape = [1 << 20, 4];
    const r = await bothWays("Sum", {
      x: { shape, data: new Float32Array(1 << 22).fill(0.1) },
    }, { axis: [0], keepDims: false });
    const exact = (1 << 20) * Math.fround(0.1);
    for (const v of r.actual.data) {
      assert.ok(Math.abs(v - exact) / exact < 1e-6, `${v} against ${exact}`);
    }
  },
});

/** conv, batch norm on batch statistics, relu, mean of squares. */
function bnNet(x: tf.Tensor4D, w: tf.Variable[]): tf.Scalar {
  const h = tf.conv2d(x, w[0] as tf.Tensor4D, 1, "same");
  const { mean, variance } = tf.moments(h, [0, 1, 2]);
  const normed = tf.batchNorm(h, mean, variance, w[2], w[1], 1e-3);
  return tf.mean(tf.square(tf.relu(normed))) as tf.Scalar;
}

/** The net's gradient and a Hessian-vector product on `backend`. */
async function bnNetDerivatives(backend: string, native: boolean) {
  seed = 7;
  await tf.setBackend(backend);
  if (native) enableNativeKernels();
  try {
    return tf.tidy(() => {
      const x = tf.tensor4d(random([16, 12, 12, 4]), [16, 12, 12, 4]);
      const w = [
        tf.variable(tf.tensor4d(random([3, 3, 4, 16]), [3, 3, 4, 16])),
        tf.variable(tf.tensor1d(random([16]).map((v) => 1 + v / 2))),
        tf.variable(tf.tensor1d(random([16]))),
      ];
      const f = () => bnNet(x, w);
      const grads = valueAndGrads(f, w).grads.map((g) => g.dataSync());
      const v = w.map((p) => tf.onesLike(p));
      const hv = hessianVectorProduct(f, w, v).map((t) => t.dataSync());
      const calls = nativeKernelsStatus().calls;
      const nativeCalls = (name: NativeKernelName) => calls[name]?.native ?? 0;
      w.forEach((p) => p.dispose());
      return {
        grads,
        hv,
        multiplies: nativeCalls("Multiply"),
        batchNorms: nativeCalls("FusedBatchNorm"),
      };
    });
  } finally {
    if (native) disableNativeKernels();
  }
}

Deno.test({
  name: `a batch-norm net's gradient and Hessian-vector product are the ` +
    `same with the native elementwise kernels${skipped}`,
  ignore,
  fn: async () => {
    const reference = await bnNetDerivatives("cpu", false);
    const before = tf.memory().numTensors;
    const native = await bnNetDerivatives("wasm", true);
    assert.ok(native.multiplies > 0, "Multiply ran natively");
    assert.ok(native.batchNorms > 0, "FusedBatchNorm ran natively");
    reference.grads.forEach((g, i) => {
      const err = maxRelErr(native.grads[i], g);
      assert.ok(err < 1e-4, `gradient ${i}: ${err}`);
    });
    reference.hv.forEach((h, i) => {
      const err = maxRelErr(native.hv[i], h);
      assert.ok(err < 1e-3, `Hessian-vector product ${i}: ${err}`);
    });
    assert.equal(tf.memory().numTensors, before);
  },
});
