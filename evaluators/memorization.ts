/**
 * Memorization of noisy labels: training accuracy on the examples whose
 * labels were corrupted, against those noisy labels, beside the accuracy on
 * the clean examples against theirs (PAPER.md, finding 5).
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import type { LayersModel } from "../core/tf.ts";
import { forward } from "../core/functional.ts";
import type { Dataset } from "../datasets/types.ts";
import type { MetricRecord, Plugin } from "../core/types.ts";
import { labelledData } from "./labelled_data.ts";
import { METRICS } from "./metric_names.ts";

/** The result of {@linkcode memorization}. */
export interface MemorizationResult {
  /** Accuracy on the noisy examples against their noisy labels. */
  noisyAcc: number;
  /** Accuracy on the clean examples against their (clean) labels. */
  cleanAcc: number;
  /** Accuracy on the noisy examples against their original labels. */
  noisyCleanAcc: number;
  /** Number of noisy examples (accuracies are NaN when 0). */
  noisyCount: number;
  /** Number of clean examples. */
  cleanCount: number;
}

/** Options for {@linkcode memorization}. */
export interface MemorizationOptions {
  /** Examples per forward pass. Default 500. */
  batchSize?: number;
  /** Only these examples of the data set. Default: all. */
  indices?: ArrayLike<number>;
  /** Batch-norm batch statistics (true) or running ones. Default false. */
  training?: boolean;
}

/**
 * How far `model` has fitted the noisy labels of `dataset` (its `noisy`
 * mask, `labels` and `cleanLabels`), by group.
 * Source: Arpit et al. 2017, "A closer look at memorization in deep
 * networks" (ICML), as used by Jastrzebski et al. 2021, sec. 6.
 *
 * @example
 * ```ts
 * import { tfl } from "../core/tf.ts";
 * import { memorization } from "./memorization.ts";
 * import type { Dataset } from "../datasets/types.ts";
 * const ds: Dataset = {
 *   name: "toy", x: new Float32Array([1, -1]), shape: [1],
 *   labels: new Int32Array([0, 0]), cleanLabels: new Int32Array([0, 1]),
 *   noisy: new Uint8Array([0, 1]), numClasses: 2, length: 2,
 * };
 * const model = tfl.sequential({
 *   layers: [tfl.layers.dense({ units: 2, inputShape: [1] })],
 * });
 * const r = await memorization(model, ds);
 * console.assert(r.noisyCount === 1 && r.cleanCount === 1);
 * model.dispose();
 * ```
 */
export async function memorization(
  model: LayersModel,
  dataset: Dataset,
  options: MemorizationOptions = {},
): Promise<MemorizationResult> {
  const batchSize = options.batchSize ?? 500;
  const all = options.indices ??
    Int32Array.from({ length: dataset.length }, (_, i) => i);
  let noisyHit = 0, cleanHit = 0, noisyCleanHit = 0;
  let noisyCount = 0, cleanCount = 0;
  for (let start = 0; start < all.length; start += batchSize) {
    const idx = Array.from(
      { length: Math.min(batchSize, all.length - start) },
      (_, k) => all[start + k],
    );
    const predicted = await predict(model, dataset, idx, !!options.training);
    idx.forEach((i, k) => {
      if (dataset.noisy[i]) {
        noisyCount++;
        if (predicted[k] === dataset.labels[i]) noisyHit++;
        if (predicted[k] === dataset.cleanLabels[i]) noisyCleanHit++;
      } else {
        cleanCount++;
        if (predicted[k] === dataset.labels[i]) cleanHit++;
      }
    });
  }
  return {
    noisyAcc: noisyHit / noisyCount,
    cleanAcc: cleanHit / cleanCount,
    noisyCleanAcc: noisyCleanHit / noisyCount,
    noisyCount,
    cleanCount,
  };
}

async function predict(
  model: LayersModel,
  dataset: Dataset,
  idx: number[],
  training: boolean,
): Promise<Int32Array> {
  const { x, y } = labelledData(dataset, idx);
  const classes = tf.tidy(() => tf.argMax(forward(model, x, training), -1));
  const out = Int32Array.from(await classes.data());
  tf.dispose([x, y, classes]);
  return out;
}

/**
 * The epoch of the first record in `history` whose value is at least
 * `threshold`, or undefined when none is.
 *
 * @example
 * ```ts
 * import { firstEpochReaching } from "./memorization.ts";
 * const history = [0.2, 0.6, 0.9].map((value, epoch) => ({
 *   name: "memo/noisy_acc", value, step: 10 * epoch, epoch,
 *   scope: "epoch" as const,
 * }));
 * console.assert(firstEpochReaching(history, 0.5) === 1);
 * ```
 */
export function firstEpochReaching(
  history: readonly MetricRecord[],
  threshold: number,
): number | undefined {
  return history.find((r) => r.value >= threshold)?.epoch;
}

/** Options for {@linkcode memorizationMonitor}. */
export interface MemorizationMonitorOptions extends MemorizationOptions {
  /**
   * The accuracy whose first crossing is logged per group as
   * "memo/noisy_reached" and "memo/clean_reached" (value: the 0-based
   * epoch). Default 0.9.
   */
  threshold?: number;
}

/**
 * Logs at each epoch end, on the training set: "memo/noisy_acc",
 * "memo/clean_acc", "memo/noisy_clean_acc", and once per group the epoch it
 * first reaches `threshold`. Logs nothing for the noisy group when the
 * training set has no label noise.
 *
 * @example
 * ```ts
 * import { memorizationMonitor } from "./memorization.ts";
 * const plugin = memorizationMonitor({ threshold: 0.95 });
 * console.assert(plugin.name === "memorization");
 * ```
 */
export function memorizationMonitor(
  options: MemorizationMonitorOptions = {},
): Plugin {
  const threshold = options.threshold ?? 0.9;
  let reached: { noisy?: number; clean?: number } = {};
  return {
    name: "memorization",
    async epochEnd(ctx) {
      const r = await memorization(ctx.model, ctx.data.train, options);
      const epoch = ctx.counters.epoch;
      const groups = [
        ["clean", r.cleanAcc, r.cleanCount, METRICS.cleanReached],
        ["noisy", r.noisyAcc, r.noisyCount, METRICS.noisyReached],
      ] as const;
      if (r.cleanCount > 0) {
        ctx.metrics.log(METRICS.cleanAcc, r.cleanAcc, "epoch");
      }
      if (r.noisyCount > 0) {
        ctx.metrics.log(METRICS.noisyAcc, r.noisyAcc, "epoch");
        ctx.metrics.log(METRICS.noisyCleanAcc, r.noisyCleanAcc, "epoch");
      }
      for (const [group, acc, count, metric] of groups) {
        if (count > 0 && reached[group] === undefined && acc >= threshold) {
          reached[group] = epoch;
          ctx.metrics.log(metric, epoch, "epoch");
        }
      }
    },
    getState: () => ({ ...reached }),
    setState(state) {
      reached = { ...(state as typeof reached) };
    },
  };
}
