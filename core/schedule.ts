/**
 * Learning-rate schedules: functions from the step to a multiplier of the
 * base learning rate, so that one schedule serves any optimizer.
 *
 * @module
 */

/** Where training is, as schedules see it. */
export interface ScheduleState {
  /** Optimizer steps taken so far. */
  step: number;
  /** Total steps of the run. */
  totalSteps: number;
  /** Steps per epoch. */
  stepsPerEpoch: number;
}

/** A schedule returns the factor applied to the base learning rate. */
export type Schedule = (state: ScheduleState) => number;

/** The learning rate stays at its base value. */
export function constant(): Schedule {
  return () => 1;
}

/** Options for {@linkcode stepDecay}. */
export interface StepDecayOptions {
  /** Epochs at which the rate is multiplied by `gamma`. */
  milestones: number[];
  /** The factor at each milestone. Default 0.1. */
  gamma?: number;
}

/** Multiplies the rate by `gamma` at each milestone epoch. */
export function stepDecay(options: StepDecayOptions): Schedule {
  const gamma = options.gamma ?? 0.1;
  const milestones = [...options.milestones].sort((a, b) => a - b);
  return ({ step, stepsPerEpoch }) => {
    const epoch = step / stepsPerEpoch;
    const passed = milestones.filter((m) => epoch >= m).length;
    return gamma ** passed;
  };
}

/** Options for {@linkcode cosine}. */
export interface CosineOptions {
  /** The final factor at the end of training. Default 0. */
  minFactor?: number;
}

/** Cosine annealing to `minFactor` over the run (Loshchilov and Hutter). */
export function cosine(options: CosineOptions = {}): Schedule {
  const min = options.minFactor ?? 0;
  return ({ step, totalSteps }) => {
    const t = Math.min(step / Math.max(totalSteps, 1), 1);
    return min + (1 - min) * 0.5 * (1 + Math.cos(Math.PI * t));
  };
}

/** Options for {@linkcode warmup}. */
export interface WarmupOptions {
  /** Steps of linear warm-up from `startFactor` to the schedule's value. */
  steps: number;
  /** The factor at step 0. Default 0. */
  startFactor?: number;
}

/** Linear warm-up over the first steps, then `after`. */
export function warmup(
  options: WarmupOptions,
  after: Schedule = constant(),
): Schedule {
  const start = options.startFactor ?? 0;
  if (!(options.steps >= 0)) {
    throw new RangeError(
      `Cannot make a warm-up: steps is ${options.steps}, expected >= 0`,
    );
  }
  return (state) => {
    const target = after(state);
    if (state.step >= options.steps) return target;
    const t = state.step / options.steps;
    return target * (start + (1 - start) * t);
  };
}
