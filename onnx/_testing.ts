/**
 * Test helpers: models with every weight drawn at random (so bias and batch
 * norm statistics matter), and a one-call round trip through ONNX Runtime.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type LayersModel, tf } from "../core/tf.ts";
import { checkOnnx } from "./check.ts";
import { toOnnx, type ToOnnxOptions } from "./convert.ts";
import { type OnnxVerification, verifyOnnx } from "./verify.ts";

/** Sets every weight of `model` to seeded random values; variances > 0. */
export function randomizeWeights(model: LayersModel, seed = 1): void {
  let s = seed;
  for (const layer of model.layers) {
    const values = layer.weights.map((w) =>
      w.originalName.endsWith("moving_variance")
        ? tf.randomUniform(w.shape as number[], 0.5, 1.5, "float32", s++)
        : tf.randomNormal(w.shape as number[], 0, 0.5, "float32", s++)
    );
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/**
 * Converts `model`, asserts the structural checks pass, runs it in ONNX
 * Runtime and asserts it matches tfjs within 1e-4; returns the comparison.
 */
export async function assertRoundTrip(
  model: LayersModel,
  options: ToOnnxOptions = {},
): Promise<OnnxVerification> {
  const bytes = toOnnx(model, options);
  assert.deepEqual(checkOnnx(bytes), []);
  const result = await verifyOnnx(model, bytes, {
    inputLayout: options.inputLayout,
    sampleSize: 3,
    sampleSeed: 11,
  });
  assert.ok(
    result.passed,
    `ONNX differs from tfjs: rel ${result.maxRelDiff}, ` +
      `abs ${result.maxAbsDiff}`,
  );
  return result;
}
