/**
 * When an evaluator plugin measures: every so many steps, more often early
 * in training, at the start and at each epoch end.
 *
 * @module
 */

/** When a monitor runs. */
export interface EvalSchedule {
  /** Measure every this many optimizer steps; 0 turns step measuring off. Default 0. */
  every?: number;
  /** Until this step, measure every `denseEvery` steps instead. Default 0. */
  denseUntil?: number;
  /** The step interval while step <= `denseUntil`. Default `every`. */
  denseEvery?: number;
  /** Measure once before the first step (step 0). Default true. */
  atStart?: boolean;
  /** Measure at the end of each epoch. Default true. */
  epochEnd?: boolean;
}

/**
 * Whether `schedule` asks for a measurement after `step` optimizer steps.
 *
 * @example Dense early, sparse later
 * ```ts
 * import { isDue } from "./eval_schedule.ts";
 * const s = { every: 50, denseUntil: 100, denseEvery: 10 };
 * console.assert(isDue(s, 20) && !isDue(s, 120) && isDue(s, 150));
 * ```
 */
export function isDue(schedule: EvalSchedule, step: number): boolean {
  const every = schedule.every ?? 0;
  const denseUntil = schedule.denseUntil ?? 0;
  const denseEvery = schedule.denseEvery ?? every;
  if (step <= 0) return false;
  if (step <= denseUntil && denseEvery > 0) return step % denseEvery === 0;
  return every > 0 && step % every === 0;
}

/** Throws a RangeError naming the first bad field of `schedule`. */
export function checkSchedule(schedule: EvalSchedule): void {
  for (const key of ["every", "denseUntil", "denseEvery"] as const) {
    const v = schedule[key];
    if (v !== undefined && (!Number.isInteger(v) || v < 0)) {
      throw new RangeError(
        `Cannot schedule an evaluator: ${key} is "${v}"; ` +
          "give a non-negative integer",
      );
    }
  }
}
