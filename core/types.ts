/**
 * The contract between the training loop and its plugins: the context each
 * hook receives, and the hooks a plugin may implement.
 *
 * Hook kinds:
 * - notify: every plugin's hook runs, in plugin order, awaited in turn.
 * - reduce: a value is threaded through the plugins; each may return a new
 *   one (or nothing to keep it).
 * - first: plugins are asked in order; the first answer that is not
 *   `undefined` wins and the rest are not asked.
 *
 * Plugin order is the order of the `plugins` array, except that plugins with
 * `enforce: "pre"` run before all others and `enforce: "post"` after.
 *
 * @module
 */
import type { LayersModel, tf } from "./tf.ts";
import type { Random } from "./random.ts";
import type { DataSplits } from "../datasets/types.ts";

/** One batch of examples on the device. */
export interface Batch {
  /** Inputs, NHWC for images. */
  x: tf.Tensor;
  /** Training labels (int32). */
  y: tf.Tensor;
  /** Index of each example in the training set. */
  indices: Int32Array;
  /** Number of examples. */
  size: number;
}

/** Where the loop is. All counts start at 0. */
export interface Counters {
  /** Current epoch. */
  epoch: number;
  /** Optimizer steps taken so far (the global step). */
  step: number;
  /** Index of the current batch within its epoch. */
  batchInEpoch: number;
  /** Batches per epoch. */
  stepsPerEpoch: number;
  /** Training examples processed so far. */
  examplesSeen: number;
  /** Total epochs planned. */
  epochs: number;
  /** Total steps planned: epochs times steps per epoch, capped by maxSteps. */
  totalSteps: number;
}

/** When a metric was recorded. */
export type MetricScope = "step" | "epoch";

/** One recorded metric value. */
export interface MetricRecord {
  name: string;
  value: number;
  step: number;
  epoch: number;
  scope: MetricScope;
}

/**
 * Where plugins write numbers. A tensor value is read from the device only
 * when the sink flushes (at the end of a step's hooks, in one batch), so
 * logging does not stall the device.
 */
export interface MetricsSink {
  /** Records `value` under `name` at the current step (or epoch). */
  log(name: string, value: number | tf.Tensor, scope?: MetricScope): void;
  /** The latest value of every metric, after the last flush. */
  latest(): Record<string, number>;
  /** Every recorded value of `name`, oldest first. */
  history(name: string): MetricRecord[];
  /** Names of all metrics recorded so far. */
  names(): string[];
  /** Reads pending device values and writes them out. */
  flush(): Promise<void>;
}

/** Messages for reporters; the core itself never prints. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
}

/** An optimizer over a fixed list of variables. */
export interface Optimizer {
  /** A short name, e.g. "sgd". */
  readonly name: string;
  /** The learning rate the next step will use. */
  learningRate: number;
  /** Applies one update with `grads` (aligned with `params`). */
  apply(params: tf.Variable[], grads: tf.Tensor[]): void;
  /** Optimizer state (e.g. momentum buffers) for checkpoints. */
  getState(): Promise<Record<string, unknown>>;
  /** Restores state saved by `getState`. */
  setState(state: Record<string, unknown>, params: tf.Variable[]): void;
  /** Frees device memory. */
  dispose(): void;
}

/** Facts about the run, fixed for its whole length. */
export interface RunInfo {
  /** The run folder: config, metrics and summary are written here. */
  dir: string;
  /** The seed every random stream derives from. */
  seed: number;
  /** The compute backend. */
  backend: string;
  /** The resolved configuration, as written to config.json. */
  config: Record<string, unknown>;
}

/**
 * The one argument every hook receives. The same object lives for the whole
 * run; fields such as `batch` and `counters` change as the loop moves.
 */
export interface Context {
  readonly run: RunInfo;
  readonly counters: Counters;
  readonly model: LayersModel;
  /** The variables the optimizer updates, in a fixed order. */
  readonly params: tf.Variable[];
  readonly optimizer: Optimizer;
  /** The data the run trains and tests on. */
  readonly data: DataSplits;
  /** The current batch, during batch hooks; undefined elsewhere. */
  batch: Batch | undefined;
  /** The logits of the current batch, during and after the loss hook. */
  logits: tf.Tensor | undefined;
  readonly metrics: MetricsSink;
  /** A seeded random source; each plugin gets its own stream by name. */
  readonly random: Random;
  readonly log: Logger;
  /** The batch size of the training data pipeline. */
  readonly batchSize: number;
  /** Asks the loop to stop after the current step. */
  stop(reason: string): void;
  /** The reason given to `stop`, once asked. */
  readonly stopReason: string | undefined;
  /** The error that ended the run, in `exception`, `fitEnd`, `teardown`. */
  readonly error: unknown;
  /** Runs the model: batch-norm batch statistics when `training` is true. */
  forward(x: tf.Tensor, training: boolean): tf.Tensor;
  /** The training loss of logits against integer labels (mean CE). */
  lossFn(logits: tf.Tensor, labels: tf.Tensor): tf.Scalar;
  /** Everything needed to continue the run exactly from this point. */
  checkpoint(): Promise<Checkpoint>;
}

/** A value that may be awaited. */
export type MaybePromise<T> = T | Promise<T>;

/**
 * A plugin: a name and the hooks it needs. Hooks are listed here in the
 * order the loop calls them.
 */
export interface Plugin {
  /** Names the plugin in errors, metrics and checkpoints. */
  readonly name: string;
  /** Run before ("pre") or after ("post") plugins without this field. */
  readonly enforce?: "pre" | "post";

  /** notify. Once, after the model, data and backend are ready. */
  setup?(ctx: Context): MaybePromise<void>;
  /**
   * first. Asked after setup for saved state to resume from; the first
   * plugin that returns a checkpoint wins.
   */
  resume?(ctx: Context): MaybePromise<Checkpoint | undefined>;
  /** notify. Before the first epoch. */
  fitStart?(ctx: Context): MaybePromise<void>;
  /** notify. At the start of each epoch. */
  epochStart?(ctx: Context): MaybePromise<void>;
  /** notify. With `ctx.batch` set, before the forward pass. */
  batchStart?(ctx: Context): MaybePromise<void>;
  /**
   * reduce, synchronous. Inside the gradient computation: returns the loss
   * with this plugin's term added. Everything done here is differentiated,
   * so a regularizer is a plugin that adds a term. `ctx.logits` is set.
   */
  loss?(ctx: Context, loss: tf.Scalar): tf.Scalar | void;
  /** notify. Just before gradients are computed. */
  beforeBackward?(ctx: Context): MaybePromise<void>;
  /**
   * reduce, synchronous. Gradients aligned with `ctx.params`; return new
   * ones to transform them (e.g. add a gradient computed another way).
   * Tensors returned are owned by the loop.
   */
  afterBackward?(ctx: Context, grads: tf.Tensor[]): tf.Tensor[] | void;
  /**
   * reduce, synchronous. The last chance to change gradients (clipping),
   * after every `afterBackward`.
   */
  beforeOptimizerStep?(ctx: Context, grads: tf.Tensor[]): tf.Tensor[] | void;
  /** notify. After the optimizer updated the weights. */
  afterOptimizerStep?(ctx: Context): MaybePromise<void>;
  /** notify. At the end of each batch; metrics of the step are flushed after. */
  batchEnd?(ctx: Context): MaybePromise<void>;
  /** notify. Before the loop evaluates on the test set. */
  evaluationStart?(ctx: Context): MaybePromise<void>;
  /** notify. After the test-set evaluation has been logged. */
  evaluationEnd?(ctx: Context): MaybePromise<void>;
  /** notify. At the end of each epoch, after evaluation. */
  epochEnd?(ctx: Context): MaybePromise<void>;
  /** notify. After the last epoch, and after a failure. */
  fitEnd?(ctx: Context): MaybePromise<void>;
  /** notify. When any hook or the loop throws; then fitEnd, teardown. */
  exception?(ctx: Context, error: unknown): MaybePromise<void>;
  /** notify. Always last, also after a failure: free what setup took. */
  teardown?(ctx: Context): MaybePromise<void>;

  /** State to save in checkpoints, under the plugin's name. */
  getState?(): MaybePromise<unknown>;
  /** Restores state saved by `getState`. */
  setState?(state: unknown): MaybePromise<void>;
}

/** What a checkpoint holds: enough to continue a run exactly. */
export interface Checkpoint {
  counters: Counters;
  /** Weights by variable name, as plain arrays. */
  weights: Record<string, { shape: number[]; values: number[] }>;
  optimizer: Record<string, unknown>;
  /** The state of each random stream, by stream name. */
  random: Record<string, number[]>;
  /** Plugin state by plugin name. */
  plugins: Record<string, unknown>;
  /** Metric history so far. */
  history: MetricRecord[];
}
