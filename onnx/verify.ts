/**
 * Verification of an exported model: ONNX Runtime (onnxruntime-node, CPU)
 * runs it on a batch and its outputs are compared with the tfjs model's.
 *
 * @module
 */
import { type LayersModel, tf } from "../core/tf.ts";
import { ioNames } from "./convert.ts";

/** Options of {@linkcode verifyOnnx}. */
export interface VerifyOnnxOptions {
  /**
   * Inputs to compare on, NHWC as the tfjs model takes them (one tensor per
   * model input). Default: a batch of `sampleSize` standard normal values
   * drawn with `sampleSeed`.
   */
  sample?: tf.Tensor | tf.Tensor[];
  /** Batch size of the default sample; default 4. */
  sampleSize?: number;
  /** Seed of the default sample; default 0. */
  sampleSeed?: number;
  /** The layout the model was exported with; default "nhwc". */
  inputLayout?: "nhwc" | "nchw";
  /** The largest `maxRelDiff` that passes; default 1e-4. */
  tolerance?: number;
}

/** How closely ONNX Runtime reproduced the tfjs model. */
export interface OnnxVerification {
  /** The largest |onnx - tfjs| over every output element. */
  maxAbsDiff: number;
  /**
   * The largest |onnx - tfjs| / max(|tfjs|, 1): relative for values of
   * magnitude above 1, absolute below (as numpy's allclose with
   * rtol = atol).
   */
  maxRelDiff: number;
  /** The tolerance `maxRelDiff` was held to. */
  tolerance: number;
  /** Whether `maxRelDiff <= tolerance` (NaN never passes). */
  passed: boolean;
  /** The number of examples compared. */
  batchSize: number;
}

function defaultSample(
  model: LayersModel,
  size: number,
  seed: number,
): tf.Tensor[] {
  return model.inputs.map((t, i) => {
    const dims = t.shape.slice(1);
    if (dims.some((d) => d === null)) {
      throw new RangeError(
        `Cannot make a sample for input "${t.name}": its shape ` +
          `"${JSON.stringify(t.shape)}" has unknown dimensions; pass ` +
          "options.sample",
      );
    }
    return tf.randomNormal(
      [size, ...dims as number[]],
      0,
      1,
      "float32",
      seed + i,
    );
  });
}

async function loadOrt() {
  try {
    return await import("onnxruntime-node");
  } catch (error) {
    throw new Error(
      "Cannot verify the ONNX model: onnxruntime-node could not be loaded " +
        `(${error}); check that its native binary is installed, or export ` +
        "with verify: false",
    );
  }
}

function toLayout(x: tf.Tensor, layout: "nhwc" | "nchw"): tf.Tensor {
  if (x.rank !== 4 || layout === "nhwc") return x.clone();
  return tf.transpose(x, [0, 3, 1, 2]);
}

function compare(
  got: Float32Array,
  want: Float32Array,
): { abs: number; rel: number } {
  if (got.length !== want.length) {
    return { abs: Number.POSITIVE_INFINITY, rel: Number.POSITIVE_INFINITY };
  }
  let abs = 0;
  let rel = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    // NaN anywhere must show: Math.max propagates it.
    abs = Math.max(abs, d);
    rel = Math.max(rel, d / Math.max(Math.abs(want[i]), 1));
  }
  return { abs, rel };
}

/**
 * Runs the ONNX model (a path or bytes) in ONNX Runtime on a batch and
 * compares every output with `model.predict` on the same batch.
 *
 * @example Verify a converted model
 * ```ts
 * import { tfl } from "../core/tf.ts";
 * import { toOnnx } from "./convert.ts";
 * import { verifyOnnx } from "./verify.ts";
 * const model = tfl.sequential({
 *   layers: [tfl.layers.dense({ units: 2, inputShape: [3] })],
 * });
 * const result = await verifyOnnx(model, toOnnx(model));
 * console.assert(result.passed);
 * ```
 */
export async function verifyOnnx(
  model: LayersModel,
  onnxModel: string | Uint8Array,
  options: VerifyOnnxOptions = {},
): Promise<OnnxVerification> {
  const ort = await loadOrt();
  const layout = options.inputLayout ?? "nhwc";
  const tolerance = options.tolerance ?? 1e-4;
  const given = options.sample;
  const sample = given === undefined
    ? defaultSample(model, options.sampleSize ?? 4, options.sampleSeed ?? 0)
    : Array.isArray(given)
    ? given
    : [given];
  if (sample.length !== model.inputs.length) {
    throw new RangeError(
      `Cannot verify the ONNX model: the sample has ${sample.length} ` +
        `tensors, the model ${model.inputs.length} inputs; pass one per input`,
    );
  }

  const session =
    await (typeof onnxModel === "string"
      ? ort.InferenceSession.create(onnxModel)
      : ort.InferenceSession.create(onnxModel));
  try {
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
    ioNames("input", sample.length).forEach((name, i) => {
      const x = toLayout(sample[i], layout);
      feeds[name] = new ort.Tensor(
        "float32",
        x.dataSync() as Float32Array,
        x.shape,
      );
      x.dispose();
    });
    const results = await session.run(feeds);

    const predicted = model.predict(sample);
    const wants = Array.isArray(predicted) ? predicted : [predicted];
    let abs = 0;
    let rel = 0;
    ioNames("output", wants.length).forEach((name, i) => {
      const out = results[name];
      const want = toLayout(wants[i], layout);
      const sameShape = out.dims.join() === want.shape.join();
      const d = !sameShape ? { abs: Infinity, rel: Infinity } : compare(
        out.data as Float32Array,
        want.dataSync() as Float32Array,
      );
      abs = Math.max(abs, d.abs);
      rel = Math.max(rel, d.rel);
      tf.dispose([want, wants[i]]);
    });
    return {
      maxAbsDiff: abs,
      maxRelDiff: rel,
      tolerance,
      passed: rel <= tolerance,
      batchSize: sample[0].shape[0] ?? 0,
    };
  } finally {
    if (given === undefined) tf.dispose(sample);
    await session.release();
  }
}
