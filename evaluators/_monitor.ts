/**
 * The machinery the curvature monitors share: a fixed evaluation subset
 * held on the device, a schedule, a random stream, and logging of the
 * measured numbers at steps and epoch ends.
 *
 * @module
 */
import { tf } from "../core/tf.ts";
import type { Context, MetricScope, Plugin } from "../core/types.ts";
import type { Random } from "../core/random.ts";
import { evalSubset } from "../datasets/subsets.ts";
import { type LabelledData, labelledData } from "./labelled_data.ts";
import { checkSchedule, isDue } from "./eval_schedule.ts";
import type { MonitorOptions } from "./monitor_options.ts";

/** Measures on the held data; returns metric values by name. */
export type Measure = (
  ctx: Context,
  data: LabelledData,
  random: Random,
) => Promise<Record<string, number>>;

/** A plugin that runs `measure` on its schedule and logs the result. */
export function monitor(
  name: string,
  options: MonitorOptions,
  measure: Measure,
): Plugin {
  const schedule = options.schedule ?? {};
  checkSchedule(schedule);
  const split = options.data?.split ?? "train";
  if (split !== "train" && split !== "test") {
    throw new RangeError(
      `Cannot create "${name}": split "${split}" is unknown; choose "train" ` +
        'or "test"',
    );
  }
  let data: LabelledData | undefined;
  let random: Random | undefined;
  let last: { step: number; values: Record<string, number> } | undefined;

  const run = async (ctx: Context, scope: MetricScope) => {
    const step = ctx.counters.step;
    if (last?.step !== step) {
      last = { step, values: await measure(ctx, data!, random!) };
    }
    for (const [metric, value] of Object.entries(last.values)) {
      ctx.metrics.log(metric, value, scope);
    }
  };

  return {
    name,
    setup(ctx) {
      const ds = ctx.data[split];
      const n = Math.min(options.data?.examples ?? 256, ds.length);
      const chosen = n === ds.length
        ? ds
        : evalSubset(ds, n, { seed: options.data?.seed ?? 0 });
      data = labelledData(chosen);
      random = ctx.random.fork(name);
    },
    async fitStart(ctx) {
      if (schedule.atStart ?? true) await run(ctx, "step");
    },
    async batchEnd(ctx) {
      if (isDue(schedule, ctx.counters.step)) await run(ctx, "step");
    },
    async epochEnd(ctx) {
      if (schedule.epochEnd ?? true) await run(ctx, "epoch");
    },
    teardown() {
      if (data) tf.dispose([data.x, data.y]);
      data = undefined;
    },
    getState: () => ({ random: random?.state() }),
    setState(state) {
      const saved = (state as { random?: number[] }).random;
      if (saved && random) random.restore(saved);
    },
  };
}
