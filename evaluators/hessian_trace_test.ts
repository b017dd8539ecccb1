import assert from "node:assert/strict";
import { tf } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { Random } from "../core/random.ts";
import { hessianTrace, hutchinsonTrace } from "./hessian_trace.ts";
import { lossHessian } from "./hessian_operator.ts";
import { denseMatrix, tinyData, tinyMlp, trace } from "./_testing.ts";

await useBackend("cpu");

/** A fixed symmetric matrix as an operator on the host. */
function matrixOperator(a: number[][]) {
  return {
    dim: a.length,
    apply: (v: Float64Array) =>
      Promise.resolve(Float64Array.from(a, (row) => {
        let s = 0;
        for (let j = 0; j < row.length; j++) s += row[j] * v[j];
        return s;
      })),
  };
}

Deno.test("hessianTrace() is within its error of the exact Tr(H)", async () => {
  const model = tinyMlp({ widths: [3, 4, 3], activation: "tanh", seed: 4 });
  const data = tinyData(6, 3, 3);
  const op = lossHessian(model, data);
  const exact = trace(await denseMatrix(op));
  op.dispose();
  const before = tf.memory().numTensors;

  const est = await hessianTrace(model, data, {
    maxProbes: 200,
    relativeError: 0,
    random: new Random(9),
  });
  assert.equal(est.probes, 200);
  assert.equal(est.samples.length, 200);
  assert.ok(est.se > 0, `se ${est.se}`);
  assert.ok(
    Math.abs(est.trace - exact) < 4 * est.se,
    `${est.trace} vs ${exact} (se ${est.se})`,
  );
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([data.x, data.y]);
  model.dispose();
});

Deno.test("hessianTrace() stops early at the requested relative error", async () => {
  const model = tinyMlp({ widths: [3, 4, 3], seed: 4 });
  const data = tinyData(6, 3, 3);
  const est = await hessianTrace(model, data, {
    maxProbes: 500,
    minProbes: 5,
    relativeError: 0.1,
  });
  assert.ok(est.converged);
  assert.ok(est.probes >= 5 && est.probes < 500, `${est.probes} probes`);
  assert.ok(est.se <= 0.1 * Math.abs(est.trace));
  tf.dispose([data.x, data.y]);
  model.dispose();
});

Deno.test("hutchinsonTrace() standard error shrinks as 1/sqrt(probes)", async () => {
  const random = new Random(21);
  const n = 8;
  const a = Array.from({ length: n }, () => new Array(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) a[i][j] = a[j][i] = random.normal();
  }
  // For Rademacher probes, Var(v^T A v) = 2 sum_{i != j} A_ij^2.
  let off = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) if (i !== j) off += a[i][j] ** 2;
  }
  const sd = Math.sqrt(2 * off);
  const op = matrixOperator(a);
  for (const probes of [100, 1600]) {
    const est = await hutchinsonTrace(op, {
      maxProbes: probes,
      relativeError: 0,
      random: new Random(probes),
    });
    const expected = sd / Math.sqrt(probes);
    assert.ok(
      Math.abs(est.se / expected - 1) < 0.2,
      `${probes} probes: se ${est.se}, expected ${expected}`,
    );
    assert.ok(Math.abs(est.trace - trace(a)) < 4 * est.se);
  }
});

Deno.test("hutchinsonTrace() is exact for a diagonal operator", async () => {
  const d = [3, -1, 0.5, 2];
  const op = matrixOperator(d.map((v, i) => d.map((_, j) => i === j ? v : 0)));
  const est = await hutchinsonTrace(op, { maxProbes: 3, relativeError: 0 });
  assert.ok(Math.abs(est.trace - 4.5) < 1e-12);
  assert.equal(est.se, 0);
});

Deno.test("hessianTrace() leaves batch-norm running statistics alone", async () => {
  const model = tinyMlp({ widths: [3, 4, 3], batchNorm: true, seed: 2 });
  const data = tinyData(6, 3, 3);
  const stats = () => model.nonTrainableWeights.map((w) => w.read().dataSync());
  const saved = stats();
  const batch = await hessianTrace(model, data, { maxProbes: 3 });
  assert.deepEqual(stats(), saved);
  const running = await hessianTrace(model, data, {
    maxProbes: 3,
    bn: "running",
  });
  assert.notEqual(batch.trace, running.trace);
  tf.dispose([data.x, data.y]);
  model.dispose();
});

Deno.test("lossHessian() combines chunks into the full-data Hessian", async () => {
  const model = tinyMlp({ widths: [3, 4, 3], activation: "tanh", seed: 3 });
  const data = tinyData(7, 3, 3);
  const whole = lossHessian(model, data);
  const chunked = lossHessian(model, data, { batchSize: 3 });
  const random = new Random(5);
  const v = Float64Array.from({ length: whole.dim }, () => random.normal());
  const a = await whole.apply(v);
  const b = await chunked.apply(v);
  const scale = Math.max(...a.map(Math.abs));
  a.forEach((x, i) => assert.ok(Math.abs(x - b[i]) < 1e-5 * scale, `${i}`));
  await assert.rejects(
    () => whole.apply(new Float64Array(3)),
    /the vector has length "3" but the parameters have 31 entries/,
  );
  whole.dispose();
  chunked.dispose();
  tf.dispose([data.x, data.y]);
  model.dispose();
});

Deno.test("lossHessian().quadratic(v) equals v . apply(v), and Hutchinson's probes use it", async () => {
  const model = tinyMlp({ widths: [3, 4, 3], activation: "tanh", seed: 5 });
  const data = tinyData(6, 3, 3, 7);
  const op = lossHessian(model, data, { batchSize: 4 });
  const random = new Random(3);
  const before = tf.memory().numTensors;
  for (let k = 0; k < 3; k++) {
    const v = random.signs(op.dim);
    const hv = await op.apply(v);
    let expected = 0;
    for (let i = 0; i < v.length; i++) expected += v[i] * hv[i];
    const q = await op.quadratic!(v);
    assert.ok(
      Math.abs(q - expected) <= 1e-5 * Math.max(1, Math.abs(expected)),
      `${q} against ${expected}`,
    );
  }
  await assert.rejects(
    () => op.quadratic!(new Float64Array(op.dim + 1)),
    /the vector has length/,
  );
  // The same probes through apply alone give the same samples.
  const { quadratic: _, ...applyOnly } = op;
  const a = await hutchinsonTrace(op, { maxProbes: 4, random: new Random(8) });
  const b = await hutchinsonTrace(applyOnly, {
    maxProbes: 4,
    random: new Random(8),
  });
  a.samples.forEach((s, i) =>
    assert.ok(Math.abs(s - b.samples[i]) <= 1e-5 * Math.max(1, Math.abs(s)))
  );
  assert.equal(tf.memory().numTensors, before);
  op.dispose();
});
