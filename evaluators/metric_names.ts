/**
 * The metric names evaluators write, in one place so that reports, studies
 * and plugins agree on them.
 *
 * @module
 */

/** Metric names, by meaning. */
export const METRICS = {
  trainLoss: "train/loss",
  trainAcc: "train/acc",
  testLoss: "test/loss",
  testAcc: "test/acc",
  gradNorm: "grad/norm",
  weightsNorm: "weights/norm",
  lr: "lr",
  fisherTrace: "fisher/trace",
  fisherTraceSe: "fisher/trace_se",
  fisherEmpirical: "fisher/empirical",
  hessianTrace: "hessian/trace",
  hessianTraceSe: "hessian/trace_se",
  lambdaMax: "hessian/lambda_max",
  /** Prefix of the Lanczos eigenvalues: "hessian/eigenvalue_1", ... */
  eigenvalue: "hessian/eigenvalue_",
  noisyAcc: "memo/noisy_acc",
  cleanAcc: "memo/clean_acc",
  /** Accuracy of the noisy examples against their clean labels. */
  noisyCleanAcc: "memo/noisy_clean_acc",
  /** Epoch at which the noisy group first reached the threshold. */
  noisyReached: "memo/noisy_reached",
  /** Epoch at which the clean group first reached the threshold. */
  cleanReached: "memo/clean_reached",
} as const;
