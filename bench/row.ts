/**
 * One line of the benchmark table: a workload timed in fisherlab and, where
 * there is one, in the reference (PyTorch on the same machine), in the same
 * run, so the ratio compares like with like.
 *
 * @module
 */

/** A benchmark result. Times are medians over repeats. */
export interface BenchRow {
  /** Area of the suite, e.g. "train", "curvature", "data". */
  group: string;
  /** What was timed, e.g. "SimpleCNN SGD step, batch 128". */
  workload: string;
  /** The unit of the two numbers, e.g. "ms/step" or "examples/s". */
  unit: string;
  /** fisherlab's number. */
  fisherlab: number;
  /** The reference's number, when it ran. */
  reference?: number;
  /** True when a larger number is better (throughput), false for times. */
  higherIsBetter?: boolean;
  /** Anything a reader needs to interpret the row. */
  note?: string;
}

/** A benchmark module exports `run` with this signature. */
export type BenchModule = {
  run(options: { quick: boolean }): Promise<BenchRow[]>;
};
