import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import "./mod.ts";
import { normals, onBackend, relErr } from "./_test_util.ts";
import { WASM_KERNELS } from "./wasm.ts";
import { CPU_KERNELS } from "./cpu.ts";
import { isOurs, withStockKernels } from "./_registry.ts";

type Pad = "valid" | "same" | number;

/**
 * Runs `make` with the same inputs on cpu with tfjs's stock kernels (the
 * reference), on cpu with fisherlab's and on wasm.
 */
async function onBoth(
  inputs: Record<string, { shape: number[]; values: Float32Array }>,
  make: (t: Record<string, tf.Tensor>) => tf.Tensor,
): Promise<{ cpu: Float32Array; wasm: Float32Array; cpuOurs: Float32Array }> {
  const run = () =>
    tf.tidy(() => {
      const ts = Object.fromEntries(
        Object.entries(inputs).map((
          [k, v],
        ) => [k, tf.tensor(v.values, v.shape)]),
      );
      return make(ts);
    }).data() as Promise<Float32Array>;
  const cpu = await onBackend(
    "cpu",
    () => withStockKernels("cpu", [...CPU_KERNELS], run),
  );
  const cpuOurs = await onBackend("cpu", run);
  const wasm = await onBackend("wasm", run);
  return { cpu, wasm, cpuOurs };
}

/** The larger error of wasm and of fisherlab's cpu kernels vs the stock. */
function worstOf(
  r: { cpu: Float32Array; wasm: Float32Array; cpuOurs: Float32Array },
) {
  return Math.max(relErr(r.cpu, r.wasm), relErr(r.cpu, r.cpuOurs));
}

const seeded = (shape: number[], seed: number) => ({
  shape,
  values: normals(shape.reduce((a, b) => a * b, 1), seed),
});

Deno.test("useBackend() installs fisherlab's wasm and cpu kernels", async () => {
  await onBackend("wasm", () => {
    for (const name of WASM_KERNELS) {
      assert.ok(isOurs(name, "wasm"), `wasm ${name} is not fisherlab's`);
    }
    for (const name of CPU_KERNELS) {
      assert.ok(isOurs(name, "cpu"), `cpu ${name} is not fisherlab's`);
    }
  });
});

Deno.test("wasm Conv2DBackpropInput matches cpu over strides, pads and shapes", async () => {
  let worst = 0;
  let at = "";
  let seed = 1;
  for (const strides of [[1, 1], [2, 2], [3, 2]] as [number, number][]) {
    for (const pad of ["valid", "same", 1, 2] as Pad[]) {
      for (
        const [xShape, fShape] of [
          [[2, 7, 8, 3], [3, 3, 3, 4]],
          [[1, 6, 5, 2], [2, 3, 2, 3]],
          [[2, 5, 5, 1], [1, 1, 1, 2]],
          [[1, 9, 9, 2], [5, 5, 2, 2]],
        ]
      ) {
        const info = tf.backend_util.computeConv2DInfo(
          xShape as [number, number, number, number],
          fShape as [number, number, number, number],
          strides,
          1,
          pad,
        );
        const r = await onBoth({
          dy: seeded(info.outShape, seed++),
          filter: seeded(fShape, seed++),
        }, (t) =>
          tf.conv2dTranspose(
            t.dy as tf.Tensor4D,
            t.filter as tf.Tensor4D,
            xShape as [number, number, number, number],
            strides,
            pad,
          ));
        const err = worstOf(r);
        if (err > worst) {
          [worst, at] = [err, JSON.stringify({ xShape, fShape, strides, pad })];
        }
      }
    }
  }
  assert.ok(worst < 1e-5, `largest relative error ${worst} at ${at}`);
});

Deno.test("MaxPoolGrad on wasm and cpu matches tfjs's cpu kernel, ties and padded windows included", async () => {
  let worst = 0;
  let at = "";
  let seed = 50;
  for (
    const [size, strides, pad] of [
      [2, 2, "valid"],
      [2, 1, "same"],
      [3, 2, "same"],
      [3, 1, "valid"],
      [3, 3, 1],
    ] as [number, number, Pad][]
  ) {
    for (const rounded of [false, true]) {
      const x = seeded([2, 7, 6, 3], seed++);
      // Rounded values make many ties, and zeros fill whole windows.
      if (rounded) x.values.forEach((v, i) => x.values[i] = Math.round(v / 2));
      const r = await onBoth({
        x,
        dy: seeded([2, 7, 6, 3], seed++),
      }, (t) => {
        const f = (u: tf.Tensor) =>
          tf.maxPool(u as tf.Tensor4D, size, strides, pad);
        return tf.grad(f)(t.x, dyLike(f(t.x), t.dy));
      });
      const err = worstOf(r);
      if (err > worst) [worst, at] = [err, `${size} ${strides} ${pad}`];
    }
  }
  assert.ok(worst < 1e-6, `largest relative error ${worst} at ${at}`);
});

/** A seeded upstream gradient of `like`'s shape, taken from `source`. */
function dyLike(like: tf.Tensor, source: tf.Tensor): tf.Tensor {
  return tf.reshape(
    tf.slice(tf.reshape(source, [-1]), 0, like.size),
    like.shape,
  );
}

Deno.test("wasm BatchMatMul with transposed operands matches cpu", async () => {
  let worst = 0;
  for (
    const [aShape, bShape, ta, tb] of [
      [[5, 7], [5, 3], true, false],
      [[5, 7], [3, 7], false, true],
      [[7, 5], [3, 7], true, true],
      [[2, 4, 6], [2, 4, 3], true, false],
      [[2, 6, 4], [1, 3, 4], false, true],
    ] as [number[], number[], boolean, boolean][]
  ) {
    const r = await onBoth({
      a: seeded(aShape, worst + aShape.length),
      b: seeded(bShape, 9 + bShape.length),
    }, (t) => tf.matMul(t.a, t.b, ta, tb));
    worst = Math.max(worst, worstOf(r));
  }
  assert.ok(worst < 1e-6, `largest relative error ${worst}`);
});

Deno.test("wasm depthwise conv gradients match cpu over strides, pads and multipliers", async () => {
  let worst = 0;
  let at = "";
  let seed = 300;
  for (const strides of [1, 2] as const) {
    for (const pad of ["valid", "same", 1] as Pad[]) {
      for (
        const [xShape, fShape] of [
          [[2, 7, 6, 3], [3, 3, 3, 1]],
          [[1, 6, 7, 2], [3, 2, 2, 2]],
          [[2, 5, 5, 4], [1, 1, 4, 3]],
        ]
      ) {
        const r = await onBoth({
          x: seeded(xShape, seed++),
          f: seeded(fShape, seed++),
        }, (t) => {
          const loss = (x: tf.Tensor, f: tf.Tensor) =>
            tf.sum(tf.mul(
              tf.depthwiseConv2d(
                x as tf.Tensor4D,
                f as tf.Tensor4D,
                strides,
                pad as "same",
              ),
              tf.cos(tf.depthwiseConv2d(
                x as tf.Tensor4D,
                f as tf.Tensor4D,
                strides,
                pad as "same",
              )),
            ));
          const [dx, df] = tf.grads(loss)([t.x, t.f]);
          return tf.concat([tf.reshape(dx, [-1]), tf.reshape(df, [-1])]);
        });
        const err = worstOf(r);
        if (err > worst) {
          [worst, at] = [err, JSON.stringify({ xShape, fShape, strides, pad })];
        }
      }
    }
  }
  assert.ok(worst < 1e-5, `largest relative error ${worst} at ${at}`);
});

Deno.test("wasm convolutions with a numeric pad and a non-square filter match cpu", async () => {
  let worst = 0;
  let at = "";
  let seed = 700;
  for (const strides of [1, 2] as const) {
    for (const pad of [1, 2]) {
      for (const [h, w, fh, fw] of [[5, 6, 3, 2], [6, 5, 2, 3], [7, 7, 1, 3]]) {
        const r = await onBoth({
          x: seeded([2, h, w, 2], seed++),
          f: seeded([fh, fw, 2, 3], seed++),
          d: seeded([fh, fw, 2, 2], seed++),
        }, (t) => {
          const x = t.x as tf.Tensor4D;
          const p = pad as unknown as "same";
          const conv = tf.conv2d(x, t.f as tf.Tensor4D, strides, p);
          const depth = tf.depthwiseConv2d(x, t.d as tf.Tensor4D, strides, p);
          const [dx, df] = tf.grads((x: tf.Tensor, f: tf.Tensor) =>
            tf.sum(
              tf.square(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, p)),
            )
          )([x, t.f]);
          return tf.concat(
            [conv, depth, dx, df].map((v) => tf.reshape(v, [-1])),
          );
        });
        const err = worstOf(r);
        if (err > worst) [worst, at] = [err, `${h}x${w} ${fh}x${fw} ${pad}`];
      }
    }
  }
  assert.ok(worst < 1e-5, `largest relative error ${worst} at ${at}`);
});

Deno.test("wasm Tile matches cpu bit for bit for float32, int32 and bool", async () => {
  const grid: [number[], number[]][] = [
    [[5], [3]],
    [[1, 1, 1, 8], [4, 3, 5, 1]], // a channel vector over images
    [[1, 1], [784, 256]], // a number over a weight matrix
    [[2, 3], [1, 1]],
    [[2, 1, 3], [3, 4, 2]],
    [[3, 2, 2, 1], [1, 2, 1, 7]],
  ];
  for (const dtype of ["float32", "int32", "bool"] as const) {
    for (const [shape, reps] of grid) {
      const size = shape.reduce((a, b) => a * b, 1);
      const values = Array.from(
        normals(size, size + reps[0]),
        (v) =>
          dtype === "float32"
            ? v
            : dtype === "int32"
            ? Math.round(9 * v)
            : +(v > 0),
      );
      const run = () =>
        tf.tidy(() =>
          tf.tile(tf.tensor(values, shape, dtype), reps).dataSync()
        );
      const cpu = await onBackend("cpu", run);
      const wasm = await onBackend("wasm", run);
      assert.deepEqual(wasm, cpu, `${dtype} ${shape} x ${reps}`);
    }
  }
});

Deno.test("wasm Sum and Mean over consecutive middle axes match cpu, and other axes still work", async () => {
  const grid: [number[], number[], boolean][] = [
    [[4, 5, 8], [1], false],
    [[3, 4, 5, 8], [1, 2], false],
    [[3, 4, 5, 8], [2, 1], true],
    [[2, 130, 16], [1], true],
    [[3, 7, 2, 2], [1], false],
    // stock kernel: rows of 6 floats, a gap, leading and trailing axes
    [[4, 5, 6], [1], false],
    [[4, 5, 8], [0, 2], false],
    [[4, 5, 8], [0, 1], false],
    [[4, 5, 8], [2], true],
  ];
  const before = await onBackend("wasm", () => tf.memory().numTensors);
  for (const [shape, axes, keepDims] of grid) {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = normals(size, size + axes[0]);
    for (const reduce of [tf.sum, tf.mean]) {
      const run = () =>
        tf.tidy(() => {
          const out = reduce(tf.tensor(values, shape), axes, keepDims);
          return { shape: out.shape, data: out.dataSync() as Float32Array };
        });
      const cpu = await onBackend("cpu", run);
      const wasm = await onBackend("wasm", run);
      const where = `${reduce.name} ${shape} over ${axes} ${keepDims}`;
      assert.deepEqual(wasm.shape, cpu.shape, where);
      cpu.data.forEach((v, i) =>
        assert.ok(
          Math.abs(wasm.data[i] - v) <= 1e-5 * Math.max(1, Math.abs(v)),
          where,
        )
      );
    }
  }
  assert.equal(await onBackend("wasm", () => tf.memory().numTensors), before);
});
