/**
 * The options every curvature evaluator shares: batch-norm mode, which
 * parameters count, and the chunk size.
 *
 * @module
 */
import type { ParamFilter } from "../core/functional.ts";

/** How batch-norm layers normalize while curvature is measured. */
export type BatchNormMode = "batch" | "running";

/** Options shared by the curvature evaluators. */
export interface CurvatureOptions {
  /**
   * "batch" (default): run the model with training=true, so batch-norm
   * layers use the statistics of each chunk of `batchSize` examples, as the
   * training loss does (dropout is on too). "running": training=false,
   * running statistics; examples are then independent.
   */
  bn?: BatchNormMode;
  /** Which parameters the curvature is taken over. Default "all". */
  params?: ParamFilter;
  /** Examples per forward pass; memory bound only. Default 128. */
  batchSize?: number;
}
