import assert from "node:assert/strict";
import { tf } from "../tf.ts";
import "./mod.ts";
import type { BackendName } from "../backend.ts";
import { buildFixture, LAYER_CASES } from "./_layer_cases.ts";
import {
  checkGradients,
  checkThirdOrder,
  type GradCheck,
} from "./_grad_check.ts";
import {
  NATIVE_SKIP,
  normals,
  onBackend,
  relErr,
  WEBGPU_SKIP,
} from "./_test_util.ts";
import { pickAtArgmax, tileAxes } from "./gradients.ts";

/** Largest relative errors allowed against central differences. */
const TOL = { firstOrder: 1e-2, hvp: 5e-3, gradNorm: 1e-2 };

/** Largest relative difference allowed between two backends. */
const CROSS_TOL = 1e-5;

async function check(
  backend: BackendName,
  index: number,
  native: "on" | "off" = "off",
): Promise<GradCheck & { eps: number }> {
  return await onBackend(backend, async () => {
    const c = LAYER_CASES[index];
    const fx = buildFixture(c, 10 * index + 1);
    const r = await checkGradients(fx, 77 + index);
    fx.model.dispose();
    tf.dispose([fx.x, fx.y]);
    const where = `${c.name} on ${backend}${
      native === "on" ? " with native kernels" : ""
    } (step ${r.eps})`;
    assert.ok(r.smooth, `${where}: every step crossed a ReLU or max kink`);
    for (const key of ["firstOrder", "hvp", "gradNorm"] as const) {
      assert.ok(
        r[key] < TOL[key],
        `${where}: ${key} relative error ${r[key]} vs central differences`,
      );
    }
    return r;
  }, native);
}

for (const [index, c] of LAYER_CASES.entries()) {
  Deno.test(
    `${c.name}: gradient, Hessian-vector product and grad ||g||^2 match ` +
      "central differences on cpu and wasm, and each other",
    async () => {
      const cpu = await check("cpu", index);
      const wasm = await check("wasm", index);
      for (const key of ["grads", "hv", "gradNormGrad"] as const) {
        const err = relErr(cpu[key], wasm[key]);
        assert.ok(err < CROSS_TOL, `${key}: wasm vs cpu relative error ${err}`);
      }
    },
  );
  Deno.test({
    name: `${c.name}: the same checks with the native kernel pack on wasm` +
      (NATIVE_SKIP ? ` (skipped: ${NATIVE_SKIP})` : ""),
    ignore: NATIVE_SKIP !== false,
    fn: async () => {
      const cpu = await check("cpu", index);
      const native = await check("wasm", index, "on");
      for (const key of ["grads", "hv", "gradNormGrad"] as const) {
        const err = relErr(cpu[key], native[key]);
        assert.ok(
          err < CROSS_TOL,
          `${key}: wasm with native kernels vs cpu relative error ${err}`,
        );
      }
    },
  });
  Deno.test({
    name: `${c.name}: second derivatives match central differences on ` +
      `webgpu${WEBGPU_SKIP ? ` (skipped: ${WEBGPU_SKIP})` : ""}`,
    ignore: WEBGPU_SKIP !== false,
    fn: async () => {
      await check("webgpu", index);
    },
  });
}

Deno.test("third derivatives (grad of <w, H v>) match central differences on wasm", async () => {
  await onBackend("wasm", async () => {
    let worst = 0;
    let at = "";
    for (const [index, c] of LAYER_CASES.entries()) {
      const fx = buildFixture(c, 10 * index + 1);
      const r = await checkThirdOrder(fx, 900 + index);
      fx.model.dispose();
      tf.dispose([fx.x, fx.y]);
      assert.ok(r.smooth, `${c.name}: every step crossed a kink`);
      if (r.err > worst) [worst, at] = [r.err, c.name];
    }
    assert.ok(worst < 5e-3, `largest relative error ${worst} (${at})`);
  });
});

Deno.test("Hessian-vector products through conv and pooling free their tensors", async () => {
  for (const backend of ["cpu", "wasm"] as const) {
    await onBackend(backend, async () => {
      const index = LAYER_CASES.findIndex((c) => c.name === "max pooling");
      const fx = buildFixture(LAYER_CASES[index], 5);
      await checkGradients(fx, 6);
      const tensors = tf.memory().numTensors;
      const data = tf.engine().backend.numDataIds();
      await checkGradients(fx, 6);
      assert.equal(tf.memory().numTensors, tensors, `${backend}: tensors`);
      assert.equal(tf.engine().backend.numDataIds(), data, `${backend}: data`);
      fx.model.dispose();
      tf.dispose([fx.x, fx.y]);
    });
  }
});

Deno.test("pickAtArgmax() breaks ties to the first maximum, as tfjs does", async () => {
  await onBackend("cpu", async () => {
    const x = tf.tensor4d([1, 3, 3, 0, 2, 2, 2, 2, 5, 5, 5, 5], [1, 2, 6, 1]);
    const u = tf.tensor4d([...Array(12).keys()], [1, 2, 6, 1]);
    const picked = pickAtArgmax(x, u, {
      filterSize: 2,
      strides: 2,
      pad: "valid",
    });
    // Windows: [1 3 / 2 2] -> index 1; [3 0 / 5 5] -> 8; [2 2 / 5 5] -> 10.
    assert.deepEqual(Array.from(await picked.data()), [1, 8, 10]);
    const dx = tf.grad((t: tf.Tensor) =>
      tf.maxPool(t as tf.Tensor4D, 2, 2, "valid").sum()
    )(x);
    assert.deepEqual(
      Array.from(await dx.data()),
      [0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0],
    );
  });
});

Deno.test("avgPool's gradient is exact with 'same' padding (tfjs's is not)", async () => {
  await onBackend("cpu", async () => {
    const x = tf.ones([1, 3, 3, 1]) as tf.Tensor4D;
    const dx = tf.grad((t: tf.Tensor) =>
      tf.avgPool(t as tf.Tensor4D, 2, 1, "same").sum()
    )(x);
    // Window (i, j) covers rows i..i+1 and columns j..j+1 inside 3 x 3: it
    // has 4, 2 or 1 taps inside, and spreads 1 / taps over them.
    const expected = [
      [1 / 4, 1 / 4 + 1 / 4, 1 / 4 + 1 / 2],
      [1 / 4 + 1 / 4, 4 / 4, 1 / 4 + 1 / 2 + 1 / 4 + 1 / 2],
      [1 / 4 + 1 / 2, 1 / 4 + 1 / 2 + 1 / 4 + 1 / 2, 1 / 4 + 1 / 2 + 1 / 2 + 1],
    ].flat();
    assert.ok(relErr(await dx.data(), expected) < 1e-6);
  });
});

Deno.test("Tile's gradient sums the copies, in a constant number of ops", async () => {
  await onBackend("cpu", async () => {
    const cases: [number[], number[]][] = [
      [[3], [4]],
      [[2, 3], [3, 1]],
      [[1, 2, 1, 3], [5, 2, 7, 1]],
      [[2, 1, 2, 1, 2], [1, 3, 1, 2, 2]],
    ];
    for (const [shape, reps] of cases) {
      const size = shape.reduce((a, b) => a * b, 1);
      const x = tf.tensor(normals(size, 3), shape);
      const tiled = tf.tile(x, reps);
      const w = tf.tensor(normals(tiled.size, 4), tiled.shape);
      let dx: tf.Tensor | undefined;
      const { kernels } = await tf.profile(() => {
        dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.tile(t, reps), w)))(
          x,
        );
      });
      // The same kernels whatever the number of copies: tfjs's gradient
      // runs a Slice and an Add per copy (up to 70 copies here).
      const counts = kernels.map((k) => k.name);
      assert.equal(counts.filter((k) => k === "Slice").length, 0, `${shape}`);
      assert.ok(counts.length <= 16, `${shape}: ${counts.length} kernels`);
      // Each entry of x appears once per copy: its gradient is the sum of
      // w over the copies, read here through the tiled index arithmetic.
      const wv = w.dataSync();
      const expected = new Float32Array(size);
      const outShape = tiled.shape;
      const strides = outShape.map((_, i) =>
        outShape.slice(i + 1).reduce((a, b) => a * b, 1)
      );
      for (let o = 0; o < wv.length; o++) {
        let rest = o;
        let flat = 0;
        for (let i = 0; i < outShape.length; i++) {
          const index = Math.floor(rest / strides[i]);
          rest -= index * strides[i];
          flat = flat * shape[i] + (index % shape[i]);
        }
        expected[flat] += wv[o];
      }
      assert.ok(relErr(dx!.dataSync(), expected) < 1e-6, `${shape}`);
      tf.dispose([x, tiled, w, dx!]);
    }
  });
});

Deno.test("batch-norm Hessian-vector products slice nothing (tfjs's Tile gradient slices per copy)", async () => {
  await onBackend("wasm", async () => {
    const index = LAYER_CASES.findIndex((c) => c.name.startsWith("batch norm"));
    const fx = buildFixture(LAYER_CASES[index], 5);
    const { kernels } = await tf.profile(async () => {
      await checkGradients(fx, 6);
    });
    const names = kernels.map((k) => k.name);
    assert.ok(names.includes("FusedBatchNorm"), "the case runs a batch norm");
    assert.equal(names.filter((k) => k === "Slice").length, 0);
    fx.model.dispose();
    tf.dispose([fx.x, fx.y]);
  });
});

Deno.test("tileAxes() drops axes of length 1 and merges neighbours of one kind", () => {
  assert.deepEqual(tileAxes([1, 1, 1, 8], [4, 5, 6, 1]), {
    sizes: [120, 8],
    copies: [0],
  });
  assert.deepEqual(tileAxes([2, 3], [3, 1]), { sizes: [3, 6], copies: [0] });
  assert.deepEqual(tileAxes([2, 1, 2], [1, 3, 2]), {
    sizes: [2, 6, 2],
    copies: [1],
  });
  assert.deepEqual(tileAxes([4, 1], [1, 1]), { sizes: [4], copies: [] });
  assert.deepEqual(tileAxes([1], [1]), { sizes: [], copies: [] });
});
