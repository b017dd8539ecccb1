/**
 * Loss and accuracy of a model on a data set, in batches, reading the
 * device once at the end.
 *
 * @module
 */
import { type LayersModel, tf } from "./tf.ts";
import { crossEntropy, forward } from "./functional.ts";
import { correctCount } from "./kernels/cross_entropy.ts";
import type { Dataset } from "../datasets/types.ts";
import { takeBatch } from "../datasets/batches.ts";
import type { Augmentation } from "../datasets/augmentation.ts";

/** Options for {@linkcode evaluate}. */
export interface EvaluateOptions {
  /** Examples per forward pass. Default 500. */
  batchSize?: number;
  /** Evaluate only these examples (indices into the data set). */
  indices?: Int32Array | readonly number[];
  /** Score against these labels instead of `ds.labels` (e.g. clean ones). */
  labels?: Int32Array;
  /** Use batch statistics in batch norm. Default false (running stats). */
  training?: boolean;
  /**
   * A deterministic transform applied to each batch, e.g. the per-channel
   * normalization the training batches got. Default none.
   */
  transform?: Augmentation;
}

/** Mean cross-entropy and accuracy. */
export interface Evaluation {
  loss: number;
  accuracy: number;
  examples: number;
}

/**
 * Mean cross-entropy and accuracy of `model` on `ds`.
 *
 * @example
 * ```ts ignore
 * const { accuracy } = await evaluate(model, splits.test);
 * ```
 */
export async function evaluate(
  model: LayersModel,
  ds: Dataset,
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  const batchSize = options.batchSize ?? 500;
  const all = options.indices ??
    Int32Array.from({ length: ds.length }, (_, i) => i);
  const n = all.length;
  if (n === 0) {
    throw new RangeError(`Cannot evaluate on "${ds.name}": no examples`);
  }
  let totals = tf.zeros([2]);
  for (let start = 0; start < n; start += batchSize) {
    const idx = Int32Array.from(all.slice(start, start + batchSize));
    const batch = takeBatch(ds, idx, { augment: options.transform });
    const next = tf.tidy(() => {
      const y = options.labels
        ? tf.tensor1d(Int32Array.from(idx, (i) => options.labels![i]), "int32")
        : batch.y;
      const logits = forward(model, batch.x, options.training ?? false);
      const loss = crossEntropy(logits, y, { reduction: "sum" });
      const correct = correctCount(logits, y);
      return tf.add(totals, tf.stack([loss, correct]));
    });
    totals.dispose();
    batch.x.dispose();
    batch.y.dispose();
    totals = next;
  }
  const [loss, correct] = await totals.data();
  totals.dispose();
  return { loss: loss / n, accuracy: correct / n, examples: n };
}
