/**
 * Checkpoints: saves the whole state of a run (weights including batch-norm
 * statistics, optimizer buffers, the shuffling stream, plugin state, metric
 * history and counters) at epoch ends, and resumes from it, so a long run
 * that was stopped continues exactly where it was.
 *
 * @module
 */
import { join } from "node:path";
import type { Checkpoint, Plugin } from "../core/types.ts";
import { readJson, RUN_FILES, writeJson } from "../core/run_dir.ts";

/** Options for {@linkcode checkpoint}. */
export interface CheckpointOptions {
  /** Save every this many epochs. Default 1. */
  everyEpochs?: number;
}

/**
 * Saves `checkpoint.json` in the run folder at epoch ends, and answers the
 * loop's `resume` hook with it when the run continues an existing folder
 * (`train({ resume: dir })`).
 *
 * @example
 * ```ts ignore
 * await train({ ...experiment, name: "long", plugins: [checkpoint()] });
 * // later, after an interruption:
 * await train({ ...experiment, resume: "runs/long", plugins: [checkpoint()] });
 * ```
 */
export function checkpoint(options: CheckpointOptions = {}): Plugin {
  const every = options.everyEpochs ?? 1;
  if (!Number.isInteger(every) || every < 1) {
    throw new RangeError(
      `Cannot make a checkpoint plugin: everyEpochs is ${every}, expected ` +
        "an integer >= 1",
    );
  }
  return {
    name: "checkpoint",
    async resume(ctx) {
      const saved = await readJson<Checkpoint>(
        ctx.run.dir,
        RUN_FILES.checkpoint,
      );
      if (saved === undefined) return undefined;
      if (!saved.counters || !saved.weights) {
        throw new SyntaxError(
          `Cannot resume from "${join(ctx.run.dir, RUN_FILES.checkpoint)}": ` +
            "it is not a fisherlab checkpoint",
        );
      }
      return saved;
    },
    async epochEnd(ctx) {
      if ((ctx.counters.epoch + 1) % every !== 0) return;
      await writeJson(
        ctx.run.dir,
        RUN_FILES.checkpoint,
        await ctx.checkpoint(),
      );
    },
  };
}
