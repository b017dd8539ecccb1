/**
 * Where fisherlab looks for data sets on disk.
 *
 * @module
 */
import { join } from "node:path";

/**
 * Folders that may hold data sets, in order: `$FISHERLAB_DATA`, `./data`,
 * `~/.cache/fisherlab`, `/usr/share/datasets` (Debian's dataset packages).
 */
export function dataRoots(): string[] {
  const roots: string[] = [];
  const env = readEnv("FISHERLAB_DATA");
  if (env) roots.push(env);
  roots.push(join(Deno.cwd(), "data"));
  const home = readEnv("HOME");
  if (home) roots.push(join(home, ".cache", "fisherlab"));
  roots.push("/usr/share/datasets");
  return roots;
}

/** Candidate folders `root/name` for each root and each spelling. */
export function candidateDirs(names: string[]): string[] {
  return dataRoots().flatMap((root) => names.map((n) => join(root, n)));
}

/** The first of `dirs` that holds a file named by `hasFile`. */
export function firstDirWith(
  dirs: string[],
  hasFile: (dir: string) => boolean,
): string | undefined {
  return dirs.find((dir) => {
    try {
      return Deno.statSync(dir).isDirectory && hasFile(dir);
    } catch {
      return false;
    }
  });
}

/** True when `path` is a file. */
export function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no --allow-env: skip this root
  }
}
