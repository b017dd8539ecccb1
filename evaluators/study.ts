/**
 * Studies across runs: read many run folders, reduce each run's metric
 * history to one early-phase statistic, and correlate it with a final
 * metric (PAPER.md, finding 4: early Tr(F) against final test accuracy).
 *
 * @module
 */
import { join } from "node:path";
import type { MetricRecord, MetricScope } from "../core/types.ts";
import {
  bootstrapCorrelation,
  type BootstrapOptions,
  type Correlation,
  pearson,
  spearman,
} from "./correlation.ts";

/** What a study reads from one run folder. */
export interface RunRecords {
  /** The run folder. */
  dir: string;
  /** config.json ({} when absent). */
  config: Record<string, unknown>;
  /** summary.json ({} when absent). */
  summary: Record<string, unknown>;
  /** metrics.jsonl, in file order. */
  records: MetricRecord[];
}

/** A statistic reduced over a window of a metric's history. */
export interface ReducedStatistic {
  /** The metric, e.g. "fisher/trace". */
  metric: string;
  /** How the window is reduced. Default "max". */
  reduce?: "max" | "min" | "mean" | "first" | "last";
  /** Only records with epoch < `epochs` (0-based). Default: all. */
  epochs?: number;
  /** Only records of this scope. Default: both. */
  scope?: MetricScope;
}

/** The value of a metric when another first reaches a threshold. */
export interface ThresholdStatistic {
  /** The metric read, e.g. "fisher/trace". */
  metric: string;
  /**
   * The moment: the first step at which `when.metric` is at least
   * `when.atLeast`; the statistic is the first record of `metric` at or
   * after that step.
   */
  when: { metric: string; atLeast: number };
}

/** How one run becomes one number; undefined leaves the run out. */
export type Statistic =
  | ReducedStatistic
  | ThresholdStatistic
  | ((run: RunRecords) => number | undefined);

/** Options for {@linkcode study}. */
export interface StudyOptions extends BootstrapOptions {
  /**
   * The per-run statistic. Default: the maximum of "fisher/trace" over the
   * whole run; set `epochs` for the early phase.
   */
  statistic?: Statistic;
  /**
   * The final metric: summary.json's `metrics[target]`, else the last
   * record of `target` in metrics.jsonl. Default "test/acc".
   */
  target?: string;
}

/** One run's pair of numbers. */
export interface StudyRun {
  dir: string;
  statistic: number;
  target: number;
  config: Record<string, unknown>;
}

/** The result of {@linkcode study}. */
export interface StudyResult {
  /** The runs used. */
  runs: StudyRun[];
  /** Runs left out, and why. */
  skipped: { dir: string; reason: string }[];
  /** Pearson's r with its bootstrap interval (NaN below two runs). */
  pearson: Correlation;
  /** Spearman's rho with its bootstrap interval. */
  spearman: Correlation;
}

/**
 * Relates a per-run statistic to a final metric over the runs in
 * `runDirs`: Pearson and Spearman coefficients with seeded percentile
 * bootstrap intervals. Runs whose files are missing or lack the metrics are
 * listed in `skipped`, not fatal.
 * Source: Jastrzebski et al. 2021 (ICML), sec. 5 (early Tr(F) vs. final
 * test accuracy).
 *
 * @example
 * ```ts ignore
 * import { findRuns, study } from "./study.ts";
 * const result = await study(await findRuns("runs"), {
 *   statistic: { metric: "fisher/trace", reduce: "max", epochs: 5 },
 * });
 * ```
 */
export async function study(
  runDirs: readonly string[],
  options: StudyOptions = {},
): Promise<StudyResult> {
  const statistic = options.statistic ??
    { metric: "fisher/trace", reduce: "max" };
  const target = options.target ?? "test/acc";
  const runs: StudyRun[] = [];
  const skipped: { dir: string; reason: string }[] = [];
  for (const dir of runDirs) {
    let run: RunRecords;
    try {
      run = await readRun(dir);
    } catch (error) {
      skipped.push({ dir, reason: (error as Error).message });
      continue;
    }
    const s = computeStatistic(run, statistic);
    const t = finalValue(run, target);
    if (s === undefined || !Number.isFinite(s)) {
      skipped.push({ dir, reason: `no value of the statistic` });
    } else if (t === undefined || !Number.isFinite(t)) {
      skipped.push({ dir, reason: `no final "${target}"` });
    } else {
      runs.push({ dir, statistic: s, target: t, config: run.config });
    }
  }
  const xs = runs.map((r) => r.statistic);
  const ys = runs.map((r) => r.target);
  return {
    runs,
    skipped,
    pearson: bootstrapCorrelation(xs, ys, pearson, options),
    spearman: bootstrapCorrelation(xs, ys, spearman, options),
  };
}

/**
 * Reads a run folder's metrics.jsonl (required), config.json and
 * summary.json (optional).
 */
export async function readRun(dir: string): Promise<RunRecords> {
  const path = join(dir, "metrics.jsonl");
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    throw new Error(`Cannot read run "${dir}": "${path}" is missing`);
  }
  const records: MetricRecord[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    try {
      records.push(JSON.parse(line));
    } catch {
      throw new SyntaxError(
        `Cannot read run "${dir}": line ${i + 1} of metrics.jsonl is not ` +
          "JSON",
      );
    }
  });
  return {
    dir,
    records,
    config: await readJsonOr(join(dir, "config.json")),
    summary: await readJsonOr(join(dir, "summary.json")),
  };
}

/**
 * The run folders directly under `parent`: those holding metrics.jsonl,
 * sorted by name.
 */
export async function findRuns(parent: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(parent)) {
    if (!entry.isDirectory) continue;
    const dir = join(parent, entry.name);
    try {
      await Deno.stat(join(dir, "metrics.jsonl"));
      out.push(dir);
    } catch {
      // not a run folder
    }
  }
  return out.sort();
}

/** The statistic of one run, or undefined when its metrics are missing. */
export function computeStatistic(
  run: RunRecords,
  statistic: Statistic,
): number | undefined {
  if (typeof statistic === "function") return statistic(run);
  const series = run.records.filter((r) => r.name === statistic.metric);
  if ("when" in statistic) {
    const moment = run.records.find((r) =>
      r.name === statistic.when.metric && r.value >= statistic.when.atLeast
    );
    if (!moment) return undefined;
    return series.find((r) => r.step >= moment.step)?.value;
  }
  const window = series.filter((r) =>
    (statistic.epochs === undefined || r.epoch < statistic.epochs) &&
    (statistic.scope === undefined || r.scope === statistic.scope)
  ).map((r) => r.value);
  if (window.length === 0) return undefined;
  switch (statistic.reduce ?? "max") {
    case "max":
      return Math.max(...window);
    case "min":
      return Math.min(...window);
    case "mean":
      return window.reduce((a, b) => a + b, 0) / window.length;
    case "first":
      return window[0];
    case "last":
      return window[window.length - 1];
    default:
      throw new RangeError(
        `Cannot reduce "${statistic.metric}": "${statistic.reduce}" is ` +
          'unknown; choose one of "max", "min", "mean", "first", "last"',
      );
  }
}

function finalValue(run: RunRecords, target: string): number | undefined {
  const metrics = run.summary.metrics as Record<string, unknown> | undefined;
  const fromSummary = metrics?.[target];
  if (typeof fromSummary === "number") return fromSummary;
  return run.records.findLast((r) => r.name === target)?.value;
}

async function readJsonOr(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return {};
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new SyntaxError(`Cannot read "${path}": it is not JSON`);
  }
}
