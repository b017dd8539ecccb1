/**
 * The run folder: every run writes its resolved config, its metrics as JSON
 * lines and a summary, so that studies can read many runs later.
 *
 * @module
 */
import { join } from "node:path";

/** Files of a run folder. */
export const RUN_FILES = {
  config: "config.json",
  metrics: "metrics.jsonl",
  summary: "summary.json",
  checkpoint: "checkpoint.json",
  log: "log.txt",
} as const;

/** Makes a fresh run folder under `outDir` and returns its path. */
export async function makeRunDir(
  outDir: string,
  name: string | undefined,
  seed: number,
): Promise<string> {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19);
  const base = name ?? `run-${stamp}-seed${seed}`;
  if (/[\/\\]|^\.\.?$/.test(base)) {
    throw new RangeError(
      `Cannot make a run folder named "${base}": a run name may not ` +
        "contain path separators; use `outDir` for the parent folder",
    );
  }
  await Deno.mkdir(outDir, { recursive: true });
  let dir = join(outDir, base);
  for (let k = 2; await exists(dir); k++) dir = join(outDir, `${base}-${k}`);
  await Deno.mkdir(dir);
  return dir;
}

/** Writes `value` as pretty JSON to `dir/file`, atomically. */
export async function writeJson(
  dir: string,
  file: string,
  value: unknown,
): Promise<void> {
  const path = join(dir, file);
  const tmp = `${path}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(value, null, 2) + "\n");
  await Deno.rename(tmp, path);
}

/** Reads JSON from `dir/file`, or undefined when the file does not exist. */
export async function readJson<T>(
  dir: string,
  file: string,
): Promise<T | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(join(dir, file))) as T;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new SyntaxError(
      `Cannot read "${join(dir, file)}": ${(error as Error).message}`,
    );
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
