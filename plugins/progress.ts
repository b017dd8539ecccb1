/**
 * The default reporter: a concise progress line with loss, accuracy, rate
 * and ETA, written to stderr at most every few seconds, and the test
 * accuracy at each epoch end. The core never prints; this plugin does.
 *
 * @module
 */
import type { Context, Plugin } from "../core/types.ts";
import type { RunLog } from "../core/train.ts";

/** Options for {@linkcode progress}. */
export interface ProgressOptions {
  /** Seconds between progress lines. Default 5. */
  interval?: number;
  /** Where lines go. Default: stderr. */
  write?: (line: string) => void;
}

const encoder = new TextEncoder();

function stderrLine(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/** Formats seconds as "1h02m", "3m05s" or "42s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, "0")}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, "0")}s`;
  return `${r}s`;
}

/** A reporter that prints progress lines. */
export function progress(options: ProgressOptions = {}): Plugin {
  const interval = (options.interval ?? 5) * 1000;
  const write = options.write ?? stderrLine;
  let started = 0;
  let last = 0;
  let startStep = 0;

  const fmt = (v: number | undefined, digits = 4) =>
    v === undefined ? "-" : v.toFixed(digits);

  const line = (ctx: Context) => {
    const c = ctx.counters;
    const m = ctx.metrics.latest();
    const elapsed = (performance.now() - started) / 1000;
    const done = c.step - startStep;
    const rate = done / Math.max(elapsed, 1e-9);
    const left = c.totalSteps - c.step;
    return `epoch ${c.epoch + 1}/${c.epochs} step ${c.step} ` +
      `loss ${fmt(m["train/loss"])} acc ${fmt(m["train/acc"], 3)} | ` +
      `${rate.toFixed(2)} steps/s, ${(rate * ctx.batchSize).toFixed(0)} ` +
      `ex/s, ETA ${formatDuration(left / rate)}`;
  };

  return {
    name: "progress",
    enforce: "post",
    setup(ctx) {
      started = performance.now();
      last = started;
      startStep = ctx.counters.step;
      const log = ctx.log as Partial<RunLog>;
      log.subscribe?.((level, message) => {
        if (level !== "debug") write(`[${level}] ${message}`);
      });
      write(`fisherlab run ${ctx.run.dir} (backend ${ctx.run.backend})`);
    },
    batchEnd(ctx) {
      const now = performance.now();
      if (now - last < interval) return;
      last = now;
      write(line(ctx));
    },
    epochEnd(ctx) {
      const m = ctx.metrics.latest();
      write(
        line(ctx) + ` | test loss ${fmt(m["test/loss"])} acc ` +
          fmt(m["test/acc"], 4),
      );
    },
    fitEnd(ctx) {
      if (ctx.error !== undefined) {
        const msg = ctx.error instanceof Error
          ? ctx.error.message
          : String(ctx.error);
        write(`run failed: ${msg}`);
      }
    },
  };
}
