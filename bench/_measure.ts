/**
 * What the benchmark modules share: the median of repeated timings, running
 * a PyTorch reference script from this folder, and checking that both sides
 * built a net of the same size.
 *
 * @module
 */

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Median milliseconds of `work` over `repeats` runs, after one warm-up. */
export async function medianMs(
  work: () => unknown,
  repeats: number,
): Promise<number> {
  await work();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await work();
    times.push(performance.now() - start);
  }
  return median(times);
}

/** How long {@linkcode steadyTimes} warms up and times, at least. */
export const STEADY = { warmupMs: 250, timedMs: 250, maxCalls: 50 } as const;

/**
 * Milliseconds of each of `calls`, called in turn, round after round, in
 * their steady state: rounds until at least `STEADY.warmupMs` have passed
 * (first-call costs: compiling, choosing primitives, growing memory), then
 * at least `repeats` timed rounds and more until `STEADY.timedMs` have
 * passed, at most `STEADY.maxCalls` rounds in each phase. Calling them in
 * turn lets all see the same load. bench/torch_models.py's steady_times
 * follows the same rule, so a workload of a few milliseconds is timed
 * over dozens of calls on both sides and one of a second over a warm-up
 * and `repeats`.
 */
export async function steadyTimes(
  calls: readonly (() => unknown)[],
  repeats: number,
): Promise<number[][]> {
  const { warmupMs, timedMs, maxCalls } = STEADY;
  const warmStart = performance.now();
  for (let n = 0; n < maxCalls; n++) {
    for (const call of calls) await call();
    if (performance.now() - warmStart >= warmupMs) break;
  }
  const times = calls.map((): number[] => []);
  let spent = 0;
  while (
    times[0].length < maxCalls && (times[0].length < repeats || spent < timedMs)
  ) {
    for (const [i, call] of calls.entries()) {
      const start = performance.now();
      await call();
      const ms = performance.now() - start;
      times[i].push(ms);
      spent += ms;
    }
  }
  return times;
}

/** The median of {@linkcode steadyTimes} of one workload. */
export async function steadyMedianMs(
  work: () => unknown,
  repeats: number,
): Promise<number> {
  const [times] = await steadyTimes([work], repeats);
  return median(times);
}

/**
 * Runs `bench/<script>` with Debian's python3 (which has torch) or the one on
 * the PATH, with `--quick` when `quick` and then `extraArgs`, and returns the
 * JSON of its last line when `complete` accepts it, or why the reference
 * did not run.
 */
export async function runReference<T>(
  script: string,
  quick: boolean,
  complete: (parsed: Record<string, unknown>) => boolean,
  extraArgs: string[] = [],
): Promise<T | string> {
  const path = new URL(`./${script}`, import.meta.url).pathname;
  const args = [path, ...(quick ? ["--quick"] : []), ...extraArgs];
  let why = "install python3-torch";
  for (const python of ["/usr/bin/python3", "python3"]) {
    try {
      const out = await new Deno.Command(python, { args }).output();
      const text = new TextDecoder().decode(out.stdout).trim();
      const parsed = JSON.parse(text.split("\n").at(-1) ?? "{}");
      if (out.success && complete(parsed)) return parsed as T;
      if (typeof parsed.error === "string") why = parsed.error;
    } catch {
      // try the next interpreter
    }
  }
  return `PyTorch did not run: ${why}`;
}

/**
 * A note comparing the trainable weights of fisherlab's net with the
 * reference's: "" when the reference did not say, a warning when they
 * differ (the rows then do not compare like with like).
 */
export function weightsNote(fisherlab: number, reference?: number): string {
  if (reference === undefined) return "";
  const n = (v: number) => v.toLocaleString("en-US");
  return fisherlab === reference
    ? `${n(fisherlab)} trainable weights on both sides`
    : `NOT THE SAME NET: ${n(fisherlab)} trainable weights in fisherlab, ` +
      `${n(reference)} in PyTorch`;
}
