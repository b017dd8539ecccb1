/**
 * What the benchmark modules share: the median of repeated timings, and
 * running a PyTorch reference script from this folder.
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

/**
 * Runs `bench/<script>` with Debian's python3 (which has torch) or the one on
 * the PATH, and returns the JSON of its last line when `complete` accepts
 * it, or why the reference did not run.
 */
export async function runReference<T>(
  script: string,
  quick: boolean,
  complete: (parsed: Record<string, unknown>) => boolean,
): Promise<T | string> {
  const path = new URL(`./${script}`, import.meta.url).pathname;
  const args = quick ? [path, "--quick"] : [path];
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
