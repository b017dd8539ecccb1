/**
 * The metrics sink: plugins log numbers or device scalars; the sink reads
 * the device values together when it flushes and appends every record to
 * `metrics.jsonl` in the run folder, one JSON object per line.
 *
 * @module
 */
import { tf } from "./tf.ts";
import type { MetricRecord, MetricScope, MetricsSink } from "./types.ts";

interface Pending {
  name: string;
  value: number | tf.Tensor;
  step: number;
  epoch: number;
  scope: MetricScope;
}

/** Options for {@linkcode Metrics}. */
export interface MetricsOptions {
  /** File to append records to; none when omitted. */
  path?: string;
  /** Records to start from (when resuming a run). */
  history?: MetricRecord[];
}

/** The loop's metrics sink. */
export class Metrics implements MetricsSink {
  #pending: Pending[] = [];
  #records: MetricRecord[] = [];
  #latest = new Map<string, number>();
  #byName = new Map<string, MetricRecord[]>();
  #path: string | undefined;
  #where: () => { step: number; epoch: number };
  #listeners: ((records: MetricRecord[]) => void)[] = [];

  constructor(
    where: () => { step: number; epoch: number },
    options: MetricsOptions = {},
  ) {
    this.#where = where;
    this.#path = options.path;
    for (const r of options.history ?? []) this.#add(r);
  }

  log(name: string, value: number | tf.Tensor, scope?: MetricScope): void {
    if (typeof name !== "string" || name === "") {
      throw new TypeError("Cannot log a metric without a name");
    }
    let kept: number | tf.Tensor = value;
    if (value instanceof tf.Tensor) {
      if (value.size !== 1) {
        throw new RangeError(
          `Cannot log metric "${name}": expected a scalar, got shape ` +
            `[${value.shape}]`,
        );
      }
      // Keep the tensor beyond the caller's tidy until the flush reads it.
      kept = tf.keep(value.clone());
    } else if (typeof value !== "number") {
      throw new TypeError(
        `Cannot log metric "${name}": value is ${typeof value}, expected a ` +
          "number or a scalar tensor",
      );
    }
    const { step, epoch } = this.#where();
    this.#pending.push({
      name,
      value: kept,
      step,
      epoch,
      scope: scope ?? "step",
    });
  }

  latest(): Record<string, number> {
    return Object.fromEntries(this.#latest);
  }

  history(name: string): MetricRecord[] {
    return [...(this.#byName.get(name) ?? [])];
  }

  names(): string[] {
    return [...this.#byName.keys()];
  }

  /** Every record so far, oldest first. */
  all(): MetricRecord[] {
    return [...this.#records];
  }

  /**
   * Replaces the history (when resuming from a checkpoint) and rewrites the
   * metrics file to match, dropping records made after the checkpoint.
   */
  async replace(history: MetricRecord[]): Promise<void> {
    this.#records = [];
    this.#latest.clear();
    this.#byName.clear();
    for (const r of history) this.#add(r);
    if (this.#path) {
      const text = history.map((r) => JSON.stringify(r) + "\n").join("");
      const tmp = `${this.#path}.tmp`;
      await Deno.writeTextFile(tmp, text);
      await Deno.rename(tmp, this.#path);
    }
  }

  /** Calls `fn` with the records of each flush (reporters use this). */
  subscribe(fn: (records: MetricRecord[]) => void): void {
    this.#listeners.push(fn);
  }

  async flush(): Promise<void> {
    if (this.#pending.length === 0) return;
    const pending = this.#pending;
    this.#pending = [];
    const tensors = pending.filter((p) => p.value instanceof tf.Tensor);
    let values: number[] = [];
    if (tensors.length > 0) {
      // One read for all device values of this flush.
      const stacked = tf.tidy(() =>
        tf.concat(tensors.map((p) => tf.reshape(p.value as tf.Tensor, [1])))
      );
      values = Array.from(await stacked.data());
      stacked.dispose();
      for (const p of tensors) (p.value as tf.Tensor).dispose();
    }
    let k = 0;
    const records = pending.map((p): MetricRecord => ({
      name: p.name,
      value: typeof p.value === "number" ? p.value : values[k++],
      step: p.step,
      epoch: p.epoch,
      scope: p.scope,
    }));
    for (const r of records) this.#add(r);
    if (this.#path) {
      const text = records.map((r) => JSON.stringify(r)).join("\n") + "\n";
      await Deno.writeTextFile(this.#path, text, { append: true });
    }
    for (const fn of this.#listeners) fn(records);
  }

  /** Frees any device values not yet flushed. */
  dispose(): void {
    for (const p of this.#pending) {
      if (p.value instanceof tf.Tensor) p.value.dispose();
    }
    this.#pending = [];
  }

  #add(r: MetricRecord): void {
    this.#records.push(r);
    this.#latest.set(r.name, r.value);
    let list = this.#byName.get(r.name);
    if (!list) this.#byName.set(r.name, list = []);
    list.push(r);
  }
}
