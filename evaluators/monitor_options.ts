/**
 * What every monitor plugin takes: when it measures and on which examples.
 *
 * @module
 */
import type { EvalSchedule } from "./eval_schedule.ts";

/** Which examples a monitor measures on. */
export interface EvalDataOptions {
  /** "train" (default) or "test". */
  split?: "train" | "test";
  /**
   * Size of the fixed, seeded, class-stratified subset. Default 256 (all
   * examples when the split is smaller).
   */
  examples?: number;
  /** Seed of the subset; the same seed gives the same examples. Default 0. */
  seed?: number;
}

/** Options every monitor takes. */
export interface MonitorOptions {
  /** When to measure. Default: at the start and at each epoch end. */
  schedule?: EvalSchedule;
  /** What to measure on. Default: 256 training examples, seed 0. */
  data?: EvalDataOptions;
}
