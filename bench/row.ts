/**
 * One line of the benchmark table: a workload timed in fisherlab and, where
 * there is one, in the reference (PyTorch on the same machine), in the same
 * run, so the ratio compares like with like.
 *
 * @module
 */

/** The nets of the per-net summary, in its order. */
export const SUMMARY_NETS = [
  "MLP 784-256-10",
  "SimpleCNN",
  "ResNet-8",
] as const;

/** The workloads of the per-net summary, in its order. */
export const SUMMARY_WORKLOADS = [
  "plain SGD step",
  "Fisher-penalty step",
  "Tr(H) probe",
  "exact Tr(F)",
  "epoch",
] as const;

/** A net of the per-net summary. */
export type SummaryNet = typeof SUMMARY_NETS[number];

/** A workload of the per-net summary. */
export type SummaryWorkload = typeof SUMMARY_WORKLOADS[number];

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
  /** The cell of the per-net summary this row fills, if any. */
  cell?: { net: SummaryNet; workload: SummaryWorkload };
}

/** A benchmark module exports `run` with this signature. */
export type BenchModule = {
  run(options: { quick: boolean }): Promise<BenchRow[]>;
};
