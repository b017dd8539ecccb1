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

/**
 * Sets every weight of `model` to seeded random values: kernels with
 * standard deviation 1/sqrt(fan-in), as a trained network keeps its
 * activations of order one; vectors (biases, batch norm) with 0.5; batch
 * norm variances in [0.5, 1.5].
 */
export function randomizeWeights(model: LayersModel, seed = 1): void {
  let s = seed;
  for (const layer of model.layers) {
    const values = layer.weights.map((w) => {
      const shape = w.shape as number[];
      if (w.originalName.endsWith("moving_variance")) {
        return tf.randomUniform(shape, 0.5, 1.5, "float32", s++);
      }
      const fanIn = shape.slice(0, -1).reduce((a, b) => a * b, 1);
      const std = shape.length > 1 ? 1 / Math.sqrt(fanIn) : 0.5;
      return tf.randomNormal(shape, 0, std, "float32", s++);
    });
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
