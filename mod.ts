/**
 * fisherlab: experiments on early-phase curvature and implicit
 * regularization in deep learning, from a Deno script.
 *
 * A small core runs the training loop and calls hooks; plugins supply
 * regularizers (the Fisher penalty, gradient-norm penalties, weight decay),
 * evaluators (Tr(F), Tr(H), sharpness, memorization of noisy labels),
 * reporters and checkpoints; trained models export to ONNX.
 *
 * @example A run with the Fisher penalty
 * ```ts ignore
 * import { fisherPenalty, loadMnist, sgd, simpleCnn, train } from "./mod.ts";
 * const result = await train({
 *   model: (seed) => simpleCnn({ seed }),
 *   data: loadMnist(),
 *   epochs: 1,
 *   optimizer: sgd({ lr: 0.01 }),
 *   plugins: [fisherPenalty({ alpha: 0.1 })],
 * });
 * console.log(result.metrics["test/acc"]);
 * ```
 *
 * @module
 */

// The core: loop, hooks, optimizers, schedules, backends.
export { tf, tfl } from "./core/tf.ts";
export type { LayersModel } from "./core/tf.ts";
export {
  activeBackend,
  type BackendInfo,
  type BackendName,
  BACKENDS,
  useBackend,
  type UseBackendOptions,
} from "./core/backend.ts";
export {
  disableNativeKernels,
  enableNativeKernels,
  type NativeKernelsStatus,
  nativeKernelsStatus,
} from "./core/native/kernels.ts";
export {
  type ModelSource,
  train,
  type TrainOptions,
  type TrainResult,
} from "./core/train.ts";
export type {
  Checkpoint,
  Context,
  Counters,
  Logger,
  MaybePromise,
  MetricRecord,
  MetricScope,
  MetricsSink,
  Optimizer,
  Plugin,
  RunInfo,
} from "./core/types.ts";
export { PluginError } from "./core/plugins.ts";
export { sgd, type SgdOptions } from "./core/optimizer.ts";
export {
  constant,
  cosine,
  type CosineOptions,
  type Schedule,
  type ScheduleState,
  stepDecay,
  type StepDecayOptions,
  warmup,
  type WarmupOptions,
} from "./core/schedule.ts";
export { Random } from "./core/random.ts";
export {
  crossEntropy,
  type CrossEntropyOptions,
  dotAll,
  forward,
  hessianVectorProduct,
  logSoftmax,
  type ParamFilter,
  squaredNorm,
  trainableParams,
  type ValueAndGrads,
  valueAndGrads,
} from "./core/functional.ts";
export {
  evaluate,
  type EvaluateOptions,
  type Evaluation,
} from "./core/evaluate.ts";
export { RUN_FILES } from "./core/run_dir.ts";

// Models, data, plugins.
export * from "./models/mod.ts";
export * from "./datasets/mod.ts";
export * from "./plugins/mod.ts";
export * from "./regularizers/mod.ts";
export * from "./onnx/mod.ts";
export * from "./evaluators/mod.ts";
