// deno-lint-ignore-file no-console -- a command-line entry point prints its table
/**
 * `deno task bench`: runs every benchmark module, fisherlab and the PyTorch
 * reference side by side in one run, and prints one table of times and
 * ratios. Pass `--quick` for fewer repeats, or module names to run a subset
 * (`deno task bench data native`). Results also go to `.bench/latest.json`.
 *
 * @module
 */
import type { BenchModule, BenchRow } from "./row.ts";

const MODULES: Record<string, string> = {
  backends: "./backends.ts",
  train: "./native.ts",
  regularizers: "./regularizers.ts",
  curvature: "./curvature.ts",
  data: "./data.ts",
};

/** Formats a number to 3 significant digits. */
function fmt(v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return "-";
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
}

/**
 * The ratio "how many times faster fisherlab is than the reference":
 * above 1 means fisherlab wins, whether the unit is a time or a rate.
 */
export function speedup(row: BenchRow): number | undefined {
  if (row.reference === undefined) return undefined;
  return row.higherIsBetter
    ? row.fisherlab / row.reference
    : row.reference / row.fisherlab;
}

/** Renders rows as a Markdown table. */
export function table(rows: BenchRow[]): string {
  const head =
    "| group | workload | unit | fisherlab | PyTorch | speed-up | note |\n" +
    "| --- | --- | --- | ---: | ---: | ---: | --- |\n";
  return head +
    rows.map((r) =>
      `| ${r.group} | ${r.workload} | ${r.unit} | ${fmt(r.fisherlab)} | ` +
      `${fmt(r.reference)} | ${fmt(speedup(r))} | ${r.note ?? ""} |`
    ).join("\n") + "\n";
}

if (import.meta.main) {
  const quick = Deno.args.includes("--quick");
  const wanted = Deno.args.filter((a) => !a.startsWith("--"));
  const unknown = wanted.filter((w) => !(w in MODULES));
  if (unknown.length > 0) {
    console.error(
      `Cannot run benchmark "${unknown[0]}": choose from ` +
        Object.keys(MODULES).join(", "),
    );
    Deno.exit(2);
  }
  const names = wanted.length > 0 ? wanted : Object.keys(MODULES);
  const rows: BenchRow[] = [];
  for (const name of names) {
    console.error(`bench: ${name} ...`);
    try {
      const mod = await import(MODULES[name]) as BenchModule;
      rows.push(...await mod.run({ quick }));
    } catch (error) {
      console.error(`bench: ${name} failed: ${(error as Error).message}`);
      rows.push({
        group: name,
        workload: "(failed)",
        unit: "-",
        fisherlab: NaN,
        note: (error as Error).message.slice(0, 120),
      });
    }
  }
  const cpu = (() => {
    try {
      const info = Deno.readTextFileSync("/proc/cpuinfo");
      return info.match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
    } catch {
      return "unknown CPU";
    }
  })();
  console.log(
    `Machine: ${cpu}, ${navigator.hardwareConcurrency} cores, ` +
      `${Deno.build.os}/${Deno.build.arch}, Deno ${Deno.version.deno}\n`,
  );
  console.log(table(rows));
  await Deno.mkdir(".bench", { recursive: true });
  await Deno.writeTextFile(
    ".bench/latest.json",
    JSON.stringify({ cpu, date: new Date().toISOString(), rows }, null, 2),
  );
}
