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
   * training loss does (dropout is on too); the running statistics are
   * restored afterwards. Examples are then coupled, so exact and sampled
   * Tr(F) on a batch-norm model take the per-example loop, one pass over
   * the chunk per example and label: prefer "mini-batch" mode there.
   * "running": training=false, running statistics; examples are
   * independent.
   */
  bn?: BatchNormMode;
  /** Which parameters the curvature is taken over. Default "all". */
  params?: ParamFilter;
  /**
   * Examples per forward pass. Default 128. A memory bound, except that
   * with bn "batch" it sets the batch whose statistics are used, and in
   * "mini-batch" Tr(F) it is the batch B.
   */
  batchSize?: number;
}
