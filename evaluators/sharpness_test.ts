import assert from "node:assert/strict";
import { tf } from "../core/tf.ts";
import { useBackend } from "../core/backend.ts";
import { powerIteration, sharpness } from "./sharpness.ts";
import { hessianOperator, lossHessian } from "./hessian_operator.ts";
import { symmetricEigen } from "./_linalg.ts";
import { denseMatrix, plantedMatrix, tinyData, tinyMlp } from "./_testing.ts";

await useBackend("cpu");

Deno.test("powerIteration() finds a planted top eigenvalue", async () => {
  const a = plantedMatrix([10, 4, 3, 1, 0.5, -2], 5);
  const theta = tf.variable(tf.tensor1d([0.3, -1, 2, 0.1, 0, 1]));
  const matrix = tf.tensor2d(a);
  // L(theta) = 0.5 theta^T A theta has Hessian A.
  const loss = () =>
    tf.mul(
      0.5,
      tf.sum(tf.mul(
        theta,
        tf.matMul(matrix, theta.expandDims(1))
          .squeeze(),
      )),
    ) as tf.Scalar;
  const before = tf.memory().numTensors;
  const result = await powerIteration(hessianOperator(loss, [theta]), {
    tolerance: 1e-7,
    maxIterations: 200,
  });
  assert.ok(result.converged);
  assert.ok(Math.abs(result.lambdaMax - 10) < 1e-3, `${result.lambdaMax}`);
  assert.ok(result.iterations > 2 && result.iterations < 200);
  assert.equal(tf.memory().numTensors, before);

  const capped = await powerIteration(hessianOperator(loss, [theta]), {
    tolerance: 1e-12,
    maxIterations: 3,
  });
  assert.equal(capped.converged, false);
  assert.equal(capped.iterations, 3);
  tf.dispose([theta, matrix]);
});

Deno.test("sharpness() matches the top eigenvalue of the formed Hessian", async () => {
  const model = tinyMlp({ widths: [3, 4, 3], seed: 6 });
  const data = tinyData(8, 3, 3);
  const op = lossHessian(model, data);
  const { values } = symmetricEigen(await denseMatrix(op));
  op.dispose();
  const dominant = values.reduce((a, b) => Math.abs(b) > Math.abs(a) ? b : a);
  assert.equal(dominant, values[0], "fixture: the top eigenvalue dominates");
  const before = tf.memory().numTensors;

  const result = await sharpness(model, data, {
    tolerance: 1e-6,
    maxIterations: 500,
  });
  assert.ok(result.converged, `${result.iterations} iterations`);
  assert.ok(
    Math.abs(result.lambdaMax - values[0]) < 1e-3 * values[0],
    `${result.lambdaMax} vs ${values[0]}`,
  );
  assert.equal(tf.memory().numTensors, before);

  const running = await sharpness(model, data, { bn: "running" });
  assert.ok(Math.abs(running.lambdaMax - result.lambdaMax) < 1e-3 * values[0]);
  tf.dispose([data.x, data.y]);
  model.dispose();
});

Deno.test("powerIteration() warm-starts from a given vector, and refuses one it cannot use", async () => {
  const a = plantedMatrix([10, 4, 3, 1, 0.5, -2], 5);
  const op = {
    dim: 6,
    apply: (v: Float64Array) =>
      Promise.resolve(
        Float64Array.from(a, (row) => row.reduce((s, x, j) => s + x * v[j], 0)),
      ),
  };
  const cold = await powerIteration(op, {
    tolerance: 1e-9,
    maxIterations: 500,
  });
  // From the converged eigenvector (scaled: only the direction counts) the
  // first Rayleigh quotient is already the eigenvalue.
  const warm = await powerIteration(op, {
    start: cold.vector.map((x) => 3 * x),
    tolerance: 1e-9,
    maxIterations: 500,
  });
  assert.ok(warm.iterations < cold.iterations / 2, `${warm.iterations}`);
  assert.ok(Math.abs(warm.lambdaMax - 10) < 1e-6);
  await assert.rejects(
    () => powerIteration(op, { start: new Float64Array(5) }),
    /Cannot start power iteration: the start vector has length "5" but the operator has 6 entries/,
  );
  await assert.rejects(
    () => powerIteration(op, { start: new Float64Array(6) }),
    /start vector's norm is "0"; give a finite, nonzero vector/,
  );
});
