import assert from "node:assert/strict";
import { tf } from "./tf.ts";
import {
  activeBackend,
  type BackendName,
  BACKENDS,
  onBackendReady,
  useBackend,
} from "./backend.ts";

Deno.test("useBackend() rejects an unknown name with a RangeError listing the valid ones", async () => {
  await assert.rejects(
    () => useBackend("tpu" as BackendName),
    (e: Error) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /^Cannot use backend "tpu"/);
      for (const name of BACKENDS) assert.ok(e.message.includes(`"${name}"`));
      return true;
    },
  );
});

Deno.test("useBackend('tensorflow') without tfjs-node says how to install it", async () => {
  await useBackend("cpu");
  await assert.rejects(
    () => useBackend("tensorflow"),
    (e: Error) => {
      assert.match(e.message, /^Cannot use backend "tensorflow"/);
      assert.match(e.message, /deno add npm:@tensorflow\/tfjs-node/);
      return true;
    },
  );
  // The process carries on with the backend it had.
  assert.equal(activeBackend(), "cpu");
  assert.equal((await tf.add(1, 2).data())[0], 3);
});

Deno.test("useBackend() switches backends and runs the ready hooks each time", async () => {
  const seen: string[] = [];
  onBackendReady((name) => seen.push(name));
  await useBackend("wasm");
  assert.equal(activeBackend(), "wasm");
  await useBackend("cpu");
  assert.equal(activeBackend(), "cpu");
  assert.deepEqual(seen, ["wasm", "cpu"]);
});

Deno.test("useBackend('wasm') can train a conv net (Conv2DBackpropFilter exists)", async () => {
  await useBackend("wasm");
  const x = tf.ones([1, 4, 4, 1]) as tf.Tensor4D;
  const w = tf.variable(tf.ones([3, 3, 1, 2]));
  const g = tf.grad((f: tf.Tensor) =>
    tf.sum(tf.conv2d(x, f as tf.Tensor4D, 1, "valid"))
  )(w);
  // Each filter tap sees 4 output positions of an all-ones input.
  assert.deepEqual(Array.from(await g.data()), new Array(18).fill(4));
  tf.dispose([x, w, g]);
});

Deno.test("useBackend() enables the native kernels on wasm when a BLAS is found, and turns them off on request", async () => {
  const { loadBlas } = await import("./native/blas.ts");
  const blas = loadBlas();
  const auto = await useBackend("wasm");
  assert.equal(auto.native.enabled, blas.available);
  if (!blas.available) assert.ok(auto.native.reason);
  const off = await useBackend("wasm", { native: "off" });
  assert.equal(off.native.enabled, false);
  const cpu = await useBackend("cpu");
  assert.equal(cpu.native.enabled, false);
  await assert.rejects(
    useBackend("wasm", { native: "sometimes" as "on" }),
    /native is "sometimes"/,
  );
  if (!blas.available) {
    await assert.rejects(
      useBackend("wasm", { native: "on" }),
      /Cannot enable native kernels/,
    );
  }
  await useBackend("wasm");
});
