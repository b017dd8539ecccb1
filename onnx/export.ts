/**
 * Exporting a trained tfjs-layers model to an ONNX file, checked and
 * verified against ONNX Runtime before it replaces anything.
 *
 * @module
 */
import { dirname } from "node:path";
import type { LayersModel } from "../core/tf.ts";
import { checkOnnx } from "./check.ts";
import { toOnnx, type ToOnnxOptions } from "./convert.ts";
import {
  type OnnxVerification,
  verifyOnnx,
  type VerifyOnnxOptions,
} from "./verify.ts";

/** Options of {@linkcode exportOnnx}. */
export interface ExportOnnxOptions
  extends ToOnnxOptions, Omit<VerifyOnnxOptions, "inputLayout"> {
  /**
   * Whether to run the file in ONNX Runtime and compare it with the tfjs
   * model; default true.
   */
  verify?: boolean;
  /**
   * Whether a verification above `tolerance` fails the export (no file is
   * written); default true. When false the file is kept and the report
   * says `passed: false`.
   */
  failOnMismatch?: boolean;
}

/** What {@linkcode exportOnnx} wrote and how well it matched. */
export interface OnnxExportReport {
  /** The file written. */
  path: string;
  /** Its size in bytes. */
  bytes: number;
  /** The comparison with the tfjs model; absent when `verify` is false. */
  verification?: OnnxVerification;
}

function mismatch(path: string, v: OnnxVerification): Error {
  return new Error(
    `Cannot export the model to "${path}": ONNX Runtime's outputs differ ` +
      `from tfjs's by ${v.maxRelDiff} (relative; absolute ${v.maxAbsDiff}), ` +
      `above the tolerance ${v.tolerance}; the file was not written. Raise ` +
      "tolerance, or pass failOnMismatch: false to keep the file",
  );
}

/**
 * Converts `model` to ONNX, checks the protobuf's structure, writes it to a
 * temporary file beside `path`, runs it in ONNX Runtime on a sample batch
 * and compares it with the tfjs model; only then renames it to `path`. A
 * failure removes the temporary file and leaves an earlier `path` as it was.
 *
 * @example Export an MLP
 * ```ts
 * import { tfl } from "../core/tf.ts";
 * import { exportOnnx } from "./export.ts";
 * const model = tfl.sequential({
 *   layers: [tfl.layers.dense({ units: 2, inputShape: [3] })],
 * });
 * const path = await Deno.makeTempFile({ suffix: ".onnx" });
 * const report = await exportOnnx(model, path, { seed: 1 });
 * console.assert(report.verification?.passed);
 * await Deno.remove(path);
 * ```
 */
export async function exportOnnx(
  model: LayersModel,
  path: string,
  options: ExportOnnxOptions = {},
): Promise<OnnxExportReport> {
  const bytes = toOnnx(model, options);
  const problems = checkOnnx(bytes);
  if (problems.length > 0) {
    throw new Error(
      `Cannot export the model to "${path}": the ONNX graph is malformed ` +
        `(${problems.join("; ")}); this is a bug in fisherlab's exporter`,
    );
  }

  await Deno.mkdir(dirname(path), { recursive: true });
  const suffix = crypto.randomUUID().slice(0, 8);
  const temp = `${path}.${suffix}.tmp`;
  await Deno.writeFile(temp, bytes);
  try {
    let verification: OnnxVerification | undefined;
    if (options.verify !== false) {
      verification = await verifyOnnx(model, temp, options);
      if (!verification.passed && options.failOnMismatch !== false) {
        throw mismatch(path, verification);
      }
    }
    await Deno.rename(temp, path);
    return { path, bytes: bytes.length, verification };
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}
