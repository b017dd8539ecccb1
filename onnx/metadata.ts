/**
 * Reading back what an exported model says about its run.
 *
 * @module
 */
import { onnx } from "./_proto.ts";

/**
 * The metadata_props of an ONNX model as a record: `fisherlab_version`,
 * and where given at export `training_config` (JSON), `seed` and `metrics`
 * (JSON), then any extra entries.
 *
 * @example Read the seed back
 * ```ts
 * import { tfl } from "../core/tf.ts";
 * import { toOnnx } from "./convert.ts";
 * import { readOnnxMetadata } from "./metadata.ts";
 * const model = tfl.sequential({
 *   layers: [tfl.layers.dense({ units: 2, inputShape: [3] })],
 * });
 * const meta = readOnnxMetadata(toOnnx(model, { seed: 7 }));
 * console.assert(meta.seed === "7");
 * ```
 */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const model = onnx.ModelProto.decode(bytes);
  const out: Record<string, string> = {};
  for (const p of model.metadataProps) out[p.key ?? ""] = p.value ?? "";
  return out;
}
