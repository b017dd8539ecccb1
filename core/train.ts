/**
 * The training loop. It runs epochs of mini-batch steps, calls the plugins'
 * hooks at each stage, logs the standard metrics and writes the run folder;
 * everything else (regularizers, evaluators, reporters, checkpoints) is a
 * plugin.
 *
 * @module
 */
import { join } from "node:path";
import { type LayersModel, tf } from "./tf.ts";
import { type BackendName, useBackend } from "./backend.ts";
import { crossEntropy, forward } from "./functional.ts";
import { correctCount } from "./kernels/cross_entropy.ts";
import { Metrics } from "./metrics.ts";
import { sgd } from "./optimizer.ts";
import { PluginDriver } from "./plugins.ts";
import { Random } from "./random.ts";
import { makeRunDir, RUN_FILES, writeJson } from "./run_dir.ts";
import { constant, type Schedule } from "./schedule.ts";
import { evaluate } from "./evaluate.ts";
import type {
  Checkpoint,
  Context,
  Counters,
  Logger,
  MetricRecord,
  Optimizer,
  Plugin,
} from "./types.ts";
import type { DataSplits } from "../datasets/types.ts";
import {
  type Augmentation,
  batchCount,
  batches,
  defaultAugmentation,
  defaultPreprocessing,
} from "../datasets/mod.ts";
import { progress } from "../plugins/progress.ts";

/** A model, or a function that builds one from the run's seed. */
export type ModelSource = LayersModel | ((seed: number) => LayersModel);

/** Everything that defines a run. */
export interface TrainOptions {
  /** The model, or a builder called with the seed once the backend is set. */
  model: ModelSource;
  /** Training and test data. */
  data: DataSplits;
  /** Number of epochs. */
  epochs: number;
  /** Examples per step. Default 128. */
  batchSize?: number;
  /** Default: SGD with lr 0.1 and no momentum. */
  optimizer?: Optimizer;
  /** Multiplier of the optimizer's base learning rate. Default constant. */
  schedule?: Schedule;
  /** Regularizers, evaluators, reporters, checkpoints. */
  plugins?: Plugin[];
  /** Seeds initialization (for model builders), shuffling and plugins. Default 0. */
  seed?: number;
  /** Compute backend. Default "wasm". */
  backend?: BackendName;
  /**
   * The BLAS-backed kernel pack on wasm: "auto" (default; on when a BLAS is
   * found), "on" (fail without one) or "off".
   */
  native?: "auto" | "on" | "off";
  /** Parent of the run folder. Default "runs". */
  outDir?: string;
  /** Name of the run folder. Default: time stamp and seed. */
  name?: string;
  /**
   * Augmentation applied to each training batch. "default" picks the data
   * set's usual one (crop, flip and normalization for CIFAR; none for
   * MNIST) and the matching normalization of test batches. Default none.
   */
  augment?: Augmentation | "default";
  /**
   * Deterministic transform of test batches (e.g. the normalization the
   * training batches get). Default: none, or the data set's usual one with
   * `augment: "default"`.
   */
  testTransform?: Augmentation;
  /** Drop the last incomplete batch of each epoch. Default true. */
  dropLast?: boolean;
  /** Also evaluate on the test set every this many steps. Default: epoch ends only. */
  evaluateEvery?: number;
  /** Evaluate on only the first this many test examples. Default: all. */
  testExamples?: number;
  /** Stop after this many steps in all. Default: no limit. */
  maxSteps?: number;
  /** Read device metrics every this many steps. Default 10. */
  flushEvery?: number;
  /** Add the default progress reporter. Default true. */
  progress?: boolean;
  /** Extra entries recorded in config.json (e.g. the experiment's name). */
  config?: Record<string, unknown>;
  /**
   * Continue the run in this existing run folder: a plugin's `resume` hook
   * (e.g. the checkpoint plugin) supplies the state. Default: a new folder.
   */
  resume?: string;
}

/** What a run leaves behind. */
export interface TrainResult {
  /** The run folder. */
  dir: string;
  /** The last value of every metric. */
  metrics: Record<string, number>;
  /** Every recorded metric value. */
  history: MetricRecord[];
  /** Optimizer steps taken. */
  steps: number;
  /** Epochs completed. */
  epochs: number;
  /** Why the run stopped early, if a plugin asked it to. */
  stopReason?: string;
  /** The trained model. */
  model: LayersModel;
  /** Wall-clock seconds. */
  seconds: number;
}

/**
 * Trains a model and returns its final metrics, metric history and run
 * folder.
 *
 * @example A complete run
 * ```ts ignore
 * import { train } from "./train.ts";
 * import { simpleCnn } from "../models/mod.ts";
 * import { loadMnist } from "../datasets/mod.ts";
 * const result = await train({
 *   model: (seed) => simpleCnn({ seed }),
 *   data: loadMnist(),
 *   epochs: 1,
 * });
 * ```
 */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const started = performance.now();
  validate(options);
  const seed = options.seed ?? 0;
  const backend = options.backend ?? "wasm";
  const batchSize = options.batchSize ?? 128;
  const dropLast = options.dropLast ?? true;
  const schedule = options.schedule ?? constant();
  const optimizer = options.optimizer ?? sgd({ lr: 0.1 });
  const baseLr = optimizer.learningRate;
  const flushEvery = options.flushEvery ?? 10;
  const augment = options.augment === "default"
    ? defaultAugmentation(options.data.train.name)
    : options.augment;
  const testTransform = options.testTransform ??
    (options.augment === "default"
      ? defaultPreprocessing(options.data.test.name)
      : undefined);

  const backendInfo = await useBackend(backend, { native: options.native });
  const model = typeof options.model === "function"
    ? options.model(seed)
    : options.model;
  const params = model.trainableWeights.map((w) => w.read() as tf.Variable);

  const userPlugins = options.plugins ?? [];
  const plugins = options.progress === false ? userPlugins : [
    progress(),
    ...userPlugins,
  ];
  const driver = new PluginDriver(plugins);

  const dir = options.resume ?? await makeRunDir(
    options.outDir ?? "runs",
    options.name,
    seed,
  );
  if (options.resume !== undefined) await assertRunDir(options.resume);
  const stepsPerEpoch = batchCount(options.data.train, batchSize, dropLast);
  const counters: Counters = {
    epoch: 0,
    step: 0,
    batchInEpoch: 0,
    stepsPerEpoch,
    examplesSeen: 0,
    epochs: options.epochs,
    totalSteps: Math.min(
      stepsPerEpoch * options.epochs,
      options.maxSteps ?? Infinity,
    ),
  };
  const metrics = new Metrics(
    () => ({ step: counters.step, epoch: counters.epoch }),
    { path: join(dir, RUN_FILES.metrics) },
  );
  const log = new RunLog(join(dir, RUN_FILES.log));
  const random = new Random(seed);
  const shuffle = random.fork("shuffle");

  const config = {
    ...options.config,
    model: { name: model.name, parameters: model.countParams() },
    data: {
      train: options.data.train.name,
      test: options.data.test.name,
      trainExamples: options.data.train.length,
      testExamples: options.testExamples ?? options.data.test.length,
    },
    optimizer: { name: optimizer.name, lr: baseLr },
    epochs: options.epochs,
    batchSize,
    seed,
    backend,
    nativeKernels: backendInfo.native.enabled
      ? {
        blas: backendInfo.native.blasPath,
        kernels: backendInfo.native.kernels,
      }
      : false,
    plugins: driver.plugins.map((p) => p.name),
    fisherlab: "0.1.0",
  };
  await writeJson(dir, RUN_FILES.config, config);

  let stopReason: string | undefined;
  let failure: unknown;
  const ctx: Context = {
    run: { dir, seed, backend, config },
    counters,
    model,
    params,
    optimizer,
    data: options.data,
    batch: undefined,
    logits: undefined,
    metrics,
    random,
    log,
    batchSize,
    stop(reason: string) {
      stopReason ??= reason;
    },
    get stopReason() {
      return stopReason;
    },
    get error() {
      return failure;
    },
    forward: (x, training) => forward(model, x, training),
    lossFn: (logits, labels) => crossEntropy(logits, labels) as tf.Scalar,
    checkpoint: () => snapshot(ctx, shuffle, driver, metrics),
  };

  const testIndices = options.testExamples === undefined
    ? undefined
    : Int32Array.from(
      { length: Math.min(options.testExamples, options.data.test.length) },
      (_, i) => i,
    );
  const runEvaluation = async (scope: "step" | "epoch") => {
    await driver.notify("evaluationStart", ctx);
    const result = await evaluate(model, options.data.test, {
      indices: testIndices,
      transform: testTransform,
    });
    metrics.log("test/loss", result.loss, scope);
    metrics.log("test/acc", result.accuracy, scope);
    await driver.notify("evaluationEnd", ctx);
  };

  let firstEpoch = 0;
  try {
    await driver.notify("setup", ctx);
    if (options.resume !== undefined && !driver.has("resume")) {
      throw new RangeError(
        `Cannot resume from "${options.resume}": no plugin can load a ` +
          "checkpoint; add checkpoint() to the plugins",
      );
    }
    const checkpoint = await driver.first<Checkpoint>("resume", ctx);
    if (!checkpoint && options.resume !== undefined) {
      // Nothing was saved yet (the run stopped in its first epoch): start
      // over in the same folder, without the old partial metrics.
      await metrics.replace([]);
      log.info("no checkpoint yet; starting from the first epoch");
    }
    if (checkpoint) {
      firstEpoch = await restore(ctx, checkpoint, shuffle, driver);
      await metrics.replace(checkpoint.history);
      log.info(`resumed at epoch ${firstEpoch + 1}, step ${counters.step}`);
    }
    await driver.notify("fitStart", ctx);

    for (let epoch = firstEpoch; epoch < options.epochs; epoch++) {
      counters.epoch = epoch;
      counters.batchInEpoch = 0;
      await driver.notify("epochStart", ctx);
      const batchIter = batches(options.data.train, {
        batchSize,
        shuffle: true,
        rng: shuffle,
        dropLast,
        augment,
      });
      for (const batch of batchIter) {
        ctx.batch = batch;
        optimizer.learningRate = baseLr * schedule({
          step: counters.step,
          totalSteps: counters.totalSteps,
          stepsPerEpoch,
        });
        try {
          await driver.notify("batchStart", ctx);
          await driver.notify("beforeBackward", ctx);
          step(ctx, driver);
          await driver.notify("afterOptimizerStep", ctx);
          counters.step++;
          counters.examplesSeen += batch.size;
          metrics.log("lr", optimizer.learningRate);
          await driver.notify("batchEnd", ctx);
        } finally {
          batch.x.dispose();
          batch.y.dispose();
          ctx.batch = undefined;
        }
        if (counters.step % flushEvery === 0) await metrics.flush();
        if (
          options.evaluateEvery &&
          counters.step % options.evaluateEvery === 0
        ) {
          await runEvaluation("step");
        }
        counters.batchInEpoch++;
        if (
          options.maxSteps !== undefined && counters.step >= options.maxSteps
        ) {
          ctx.stop(`reached maxSteps ${options.maxSteps}`);
        }
        if (stopReason !== undefined) break;
      }
      await metrics.flush();
      await runEvaluation("epoch");
      await metrics.flush();
      await driver.notify("epochEnd", ctx);
      await metrics.flush();
      await log.flush();
      if (stopReason !== undefined) break;
    }
    await metrics.flush();
  } catch (error) {
    failure = error;
    log.warn(`run failed: ${error instanceof Error ? error.message : error}`);
    await driver.notifyAll("exception", ctx, error);
  }

  const late = [
    ...await driver.notifyAll("fitEnd", ctx),
    ...await driver.notifyAll("teardown", ctx),
  ];
  try {
    await metrics.flush();
  } catch (error) {
    failure ??= error;
  }
  metrics.dispose();
  optimizer.dispose();
  if (failure === undefined && late.length > 0) failure = late[0];

  const seconds = (performance.now() - started) / 1000;
  await writeJson(dir, RUN_FILES.summary, {
    status: failure !== undefined
      ? "failed"
      : stopReason !== undefined
      ? "stopped"
      : "completed",
    error: failure instanceof Error
      ? failure.message
      : failure === undefined
      ? undefined
      : String(failure),
    stopReason,
    steps: counters.step,
    epochs: counters.epoch + 1,
    seconds,
    metrics: metrics.latest(),
  });
  await log.flush();
  if (failure !== undefined) throw failure;
  return {
    dir,
    metrics: metrics.latest(),
    history: metrics.all(),
    steps: counters.step,
    epochs: counters.epoch + 1,
    stopReason,
    model,
    seconds,
  };
}

/** One optimizer step: loss with plugin terms, gradients, hooks, update. */
function step(ctx: Context, driver: PluginDriver): void {
  const batch = ctx.batch!;
  tf.tidy(() => {
    let accuracy: tf.Scalar | undefined;
    let dataLoss: tf.Scalar | undefined;
    const { value, grads } = tf.variableGrads(() => {
      const logits = ctx.forward(batch.x, true);
      ctx.logits = logits;
      const loss = ctx.lossFn(logits, batch.y);
      dataLoss = tf.keep(tf.clone(loss));
      accuracy = tf.keep(
        tf.div(correctCount(logits, batch.y), batch.size) as tf.Scalar,
      );
      return driver.reduce("loss", ctx, loss);
    }, ctx.params);
    ctx.logits = undefined;

    let list = ctx.params.map((p) => grads[p.name]);
    list = driver.reduce("afterBackward", ctx, list);
    list = driver.reduce("beforeOptimizerStep", ctx, list);
    ctx.optimizer.apply(ctx.params, list);

    ctx.metrics.log("train/loss", dataLoss!);
    ctx.metrics.log("train/objective", value);
    ctx.metrics.log("train/acc", accuracy!);
    dataLoss!.dispose();
    accuracy!.dispose();
  });
}

/** Puts a run back where a checkpoint left it; returns the next epoch. */
async function restore(
  ctx: Context,
  checkpoint: Checkpoint,
  shuffle: Random,
  driver: PluginDriver,
): Promise<number> {
  const weights = ctx.model.weights;
  for (const [i, w] of weights.entries()) {
    const saved = checkpoint.weights[checkpointKey(i)];
    if (!saved || saved.shape.join() !== w.shape.join()) {
      throw new RangeError(
        `Cannot resume: weight ${i} ("${w.originalName}", shape ` +
          `[${w.shape}]) does not match the checkpoint's ` +
          `${saved ? `[${saved.shape}]` : "(missing)"}; was it written for ` +
          "another model?",
      );
    }
    w.write(tf.tensor(saved.values, saved.shape));
  }
  ctx.optimizer.setState(checkpoint.optimizer, ctx.params);
  if (checkpoint.random.shuffle) shuffle.restore(checkpoint.random.shuffle);
  Object.assign(ctx.counters, checkpoint.counters);
  for (const plugin of driver.plugins) {
    const state = checkpoint.plugins[plugin.name];
    if (state !== undefined && plugin.setState) await plugin.setState(state);
  }
  return checkpoint.counters.epoch + 1;
}

/** The state of the run now, as a checkpoint. */
async function snapshot(
  ctx: Context,
  shuffle: Random,
  driver: PluginDriver,
  metrics: Metrics,
): Promise<Checkpoint> {
  const weights: Checkpoint["weights"] = {};
  for (const [i, w] of ctx.model.weights.entries()) {
    const value = w.read();
    weights[checkpointKey(i)] = {
      shape: value.shape,
      values: Array.from(await value.data()),
    };
  }
  const plugins: Record<string, unknown> = {};
  for (const plugin of driver.plugins) {
    if (plugin.getState) plugins[plugin.name] = await plugin.getState();
  }
  await metrics.flush();
  return {
    counters: { ...ctx.counters },
    weights,
    optimizer: await ctx.optimizer.getState(),
    random: { shuffle: shuffle.state() },
    plugins,
    history: metrics.all(),
  };
}

async function assertRunDir(dir: string): Promise<void> {
  try {
    if ((await Deno.stat(dir)).isDirectory) return;
  } catch {
    // reported below
  }
  throw new RangeError(
    `Cannot resume from "${dir}": it is not a run folder; pass the folder ` +
      "of an earlier run (it holds config.json and checkpoint.json)",
  );
}

/**
 * The key of the i-th model weight in a checkpoint: its position, since
 * tfjs-layers numbers layer names per process and they change between runs.
 */
export function checkpointKey(index: number): string {
  return String(index);
}

function validate(options: TrainOptions): void {
  if (!options || typeof options !== "object") {
    throw new TypeError("Cannot train: pass an options object");
  }
  if (!options.model) {
    throw new TypeError("Cannot train: `model` is missing");
  }
  if (!options.data?.train || !options.data?.test) {
    throw new TypeError(
      "Cannot train: `data` must have `train` and `test` data sets " +
        "(e.g. loadMnist())",
    );
  }
  if (!Number.isInteger(options.epochs) || options.epochs < 1) {
    throw new RangeError(
      `Cannot train: epochs is ${options.epochs}, expected an integer >= 1`,
    );
  }
  const b = options.batchSize ?? 128;
  if (!Number.isInteger(b) || b < 1) {
    throw new RangeError(
      `Cannot train: batchSize is ${b}, expected an integer >= 1`,
    );
  }
  if (b > options.data.train.length) {
    throw new RangeError(
      `Cannot train: batchSize ${b} is larger than the training set ` +
        `"${options.data.train.name}" (${options.data.train.length} examples)`,
    );
  }
}

/** The run's logger: appends to log.txt and tells subscribers. */
export class RunLog implements Logger {
  #lines: string[] = [];
  #path: string;
  #listeners: ((level: string, message: string) => void)[] = [];

  constructor(path: string) {
    this.#path = path;
  }

  /** Calls `fn` for every message (reporters print them). */
  subscribe(fn: (level: string, message: string) => void): void {
    this.#listeners.push(fn);
  }

  info(message: string): void {
    this.#emit("info", message);
  }

  warn(message: string): void {
    this.#emit("warn", message);
  }

  debug(message: string): void {
    this.#emit("debug", message);
  }

  #emit(level: string, message: string): void {
    this.#lines.push(`${new Date().toISOString()} ${level} ${message}`);
    for (const fn of this.#listeners) fn(level, message);
  }

  /** Appends the lines collected since the last flush to log.txt. */
  async flush(): Promise<void> {
    if (this.#lines.length === 0) return;
    await Deno.writeTextFile(this.#path, this.#lines.join("\n") + "\n", {
      append: true,
    });
    this.#lines = [];
  }
}
