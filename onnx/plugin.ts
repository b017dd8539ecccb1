/**
 * A plugin that exports the trained model to ONNX when a run ends.
 *
 * @module
 */
import { isAbsolute, join } from "node:path";
import type { LayersModel } from "../core/tf.ts";
import {
  exportOnnx,
  type ExportOnnxOptions,
  type OnnxExportReport,
} from "./export.ts";

/** The part of the loop's context the plugin reads. */
export interface OnnxExportContext {
  /** The trained model. */
  readonly model: LayersModel;
  /** The run's folder, seed and resolved configuration. */
  readonly run: {
    readonly dir: string;
    readonly seed: number;
    readonly config: unknown;
  };
  /** The metrics sink; its latest values go into the metadata. */
  readonly metrics: { latest(): Record<string, number> };
  /** The error that ended the run, if one did. */
  readonly error?: unknown;
}

/** Options of {@linkcode onnxExport}. */
export interface OnnxExportOptions
  extends Omit<ExportOnnxOptions, "config" | "seed" | "metrics"> {
  /** The file, relative to the run folder; default "model.onnx". */
  file?: string;
}

/** The plugin made by {@linkcode onnxExport}. */
export interface OnnxExportPlugin {
  /** Always "onnx-export". */
  readonly name: "onnx-export";
  /** notify. Exports the model unless the run failed. */
  fitEnd(ctx: OnnxExportContext): Promise<void>;
  /** The report of the last export, once one ran. */
  readonly report: OnnxExportReport | undefined;
}

/**
 * Exports `ctx.model` to `<run dir>/model.onnx` in `fitEnd`, with the run's
 * config, seed and latest metrics as metadata, verified against ONNX
 * Runtime (see {@linkcode exportOnnx}). A run that ended in an error is not
 * exported. A failed export throws, and the loop reports it with the
 * plugin's name.
 *
 * @example Export at the end of a run
 * ```ts
 * import { onnxExport } from "./plugin.ts";
 * const plugin = onnxExport({ file: "final.onnx", tolerance: 1e-4 });
 * console.assert(plugin.name === "onnx-export");
 * ```
 */
export function onnxExport(options: OnnxExportOptions = {}): OnnxExportPlugin {
  let report: OnnxExportReport | undefined;
  const { file = "model.onnx", ...rest } = options;
  return {
    name: "onnx-export",
    get report() {
      return report;
    },
    async fitEnd(ctx) {
      if (ctx.error !== undefined) return;
      const path = isAbsolute(file) ? file : join(ctx.run.dir, file);
      report = await exportOnnx(ctx.model, path, {
        ...rest,
        config: ctx.run.config,
        seed: ctx.run.seed,
        metrics: ctx.metrics.latest(),
      });
    },
  };
}
