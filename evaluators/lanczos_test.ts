import assert from "node:assert/strict";
import { tf } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { lanczos, topEigenvalues } from "./lanczos.ts";
import { lossHessian } from "./hessian_operator.ts";
import { symmetricEigen } from "./_linalg.ts";
import { denseMatrix, plantedMatrix, tinyData, tinyMlp } from "./_testing.ts";

await useBackend("cpu");

Deno.test("lanczos() recovers planted top eigenvalues", async () => {
  const eigenvalues = [9, 7, 6.5, 2, 1, 0.5, 0.1, -3, -4, 0.2];
  const a = plantedMatrix(eigenvalues, 8);
  const op = {
    dim: a.length,
    apply: (v: Float64Array) =>
      Promise.resolve(
        Float64Array.from(a, (row) => row.reduce((s, x, j) => s + x * v[j], 0)),
      ),
  };
  const result = await lanczos(op, { k: 3, tolerance: 1e-8 });
  assert.ok(result.converged);
  assert.ok(result.steps <= 10);
  [9, 7, 6.5].forEach((lam, i) =>
    assert.ok(Math.abs(result.eigenvalues[i] - lam) < 1e-8, `${i}`)
  );

  const short = await lanczos(op, { k: 3, maxSteps: 3, tolerance: 1e-12 });
  assert.equal(short.converged, false);
  assert.equal(short.steps, 3);
  assert.ok(short.residuals.some((r) => r > 1e-12));
});

Deno.test("topEigenvalues() matches the formed Hessian's spectrum", async () => {
  const model = tinyMlp({ widths: [3, 5, 3], activation: "tanh", seed: 2 });
  const data = tinyData(8, 3, 3);
  const op = lossHessian(model, data);
  const { values } = symmetricEigen(await denseMatrix(op));
  op.dispose();
  const before = tf.memory().numTensors;

  const result = await topEigenvalues(model, data, {
    k: 3,
    tolerance: 1e-5,
    maxSteps: 38,
  });
  assert.ok(result.converged, `residuals ${result.residuals}`);
  for (let i = 0; i < 3; i++) {
    assert.ok(
      Math.abs(result.eigenvalues[i] - values[i]) < 1e-3 * values[0],
      `${i}: ${result.eigenvalues[i]} vs ${values[i]}`,
    );
  }
  assert.equal(tf.memory().numTensors, before);
  tf.dispose([data.x, data.y]);
  model.dispose();
});

Deno.test("lanczos() rejects a bad k", async () => {
  const op = { dim: 2, apply: (v: Float64Array) => Promise.resolve(v) };
  await assert.rejects(() => lanczos(op, { k: 0 }), /k is "0"/);
});
