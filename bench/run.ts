// deno-lint-ignore-file no-console -- a command-line entry point prints its table
/**
 * `deno task bench`: runs every benchmark module, fisherlab and the PyTorch
 * reference side by side in one run, and prints one table of times and
 * ratios, then a per-net summary: for the MLP 784-256-10, the SimpleCNN and
 * the ResNet-8, the plain step, the Fisher-penalty step, a Tr(H) probe,
 * exact Tr(F) and a training epoch, each picked from the groups'
 * rows. Each group runs twice (`--rounds=N` to change it), each round
 * fisherlab's side and then the reference, and each side keeps its best
 * number over the rounds (see {@linkcode bestOfRounds}). Pass `--quick`
 * for one round, fewer repeats and part of an epoch, or group names to run
 * a subset (`deno task bench data train`). Results also go to
 * `.bench/latest.json`.
 *
 * @module
 */
import {
  type BenchModule,
  type BenchRow,
  SUMMARY_NETS,
  SUMMARY_WORKLOADS,
  type SummaryWorkload,
} from "./row.ts";

const MODULES: Record<string, string> = {
  backends: "./backends.ts",
  train: "./native.ts",
  regularizers: "./regularizers.ts",
  curvature: "./curvature.ts",
  data: "./data.ts",
  epoch: "./epoch.ts",
};

/** The group whose rows fill each workload of the per-net summary. */
const SUMMARY_GROUPS: Record<SummaryWorkload, string> = {
  "plain SGD step": "regularizers",
  "Fisher-penalty step": "regularizers",
  "Tr(H) probe": "curvature",
  "exact Tr(F)": "curvature",
  "epoch": "epoch",
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

/**
 * One row per workload from several rounds of the same group: each side's
 * best number over the rounds (the least time, the highest rate), taken
 * separately, with the note of the round that gave fisherlab's. On a
 * shared machine other load only ever adds time, and it comes in spells of
 * seconds to minutes that can fall on one side's turn; a round runs both
 * sides in turn, so two rounds give each side a second chance at a quiet
 * spell. Rows are matched by group, workload and unit, in the first
 * round's order; a row missing from a round or NaN there is skipped.
 */
export function bestOfRounds(rounds: BenchRow[][]): BenchRow[] {
  if (rounds.length <= 1) return rounds[0] ?? [];
  const key = (r: BenchRow) => `${r.group}\u0000${r.workload}\u0000${r.unit}`;
  return rounds[0].map((first) => {
    const same = rounds.flatMap((round) =>
      round.filter((r) => key(r) === key(first))
    );
    // Higher rank is better; a missing or failed number ranks last.
    const rank = (v: number | undefined) =>
      v === undefined || !Number.isFinite(v)
        ? -Infinity
        : first.higherIsBetter
        ? v
        : -v;
    const best = same.reduce((a, b) =>
      rank(b.fisherlab) > rank(a.fisherlab) ? b : a
    );
    const { reference } = same.reduce((a, b) =>
      rank(b.reference) > rank(a.reference) ? b : a
    );
    const note = `best of ${same.length} rounds` +
      (best.note ? `; ${best.note}` : "");
    return { ...best, reference, note };
  });
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

/**
 * Renders the per-net summary as a Markdown table: one line per net and
 * workload of the summary, in a fixed order, from the first row that fills
 * that cell, or "-" and the group to run when none does. Empty when no row
 * fills a cell (e.g. only the data group ran).
 */
export function summary(rows: BenchRow[]): string {
  if (!rows.some((r) => r.cell)) return "";
  const head =
    "| net | workload | unit | fisherlab | PyTorch | speed-up | row |\n" +
    "| --- | --- | --- | ---: | ---: | ---: | --- |\n";
  const lines = SUMMARY_NETS.flatMap((net) =>
    SUMMARY_WORKLOADS.map((workload) => {
      const row = rows.find((r) =>
        r.cell?.net === net && r.cell.workload === workload
      );
      if (!row) {
        const group = SUMMARY_GROUPS[workload];
        return `| ${net} | ${workload} | - | - | - | - | ` +
          `not run (group "${group}") |`;
      }
      return `| ${net} | ${workload} | ${row.unit} | ${fmt(row.fisherlab)} ` +
        `| ${fmt(row.reference)} | ${fmt(speedup(row))} | ` +
        `${row.group}: ${row.workload} |`;
    })
  );
  return head + lines.join("\n") + "\n";
}

if (import.meta.main) {
  const started = performance.now();
  const quick = Deno.args.includes("--quick");
  const roundsArg = Deno.args.find((a) => a.startsWith("--rounds="));
  const rounds = roundsArg ? Number(roundsArg.slice(9)) : quick ? 1 : 2;
  if (!Number.isInteger(rounds) || rounds < 1) {
    console.error(
      `Cannot run the benchmarks: ${roundsArg} is not a number of rounds; ` +
        "give --rounds=N with N >= 1",
    );
    Deno.exit(2);
  }
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
    const groupStarted = performance.now();
    try {
      const mod = await import(MODULES[name]) as BenchModule;
      const results: BenchRow[][] = [];
      for (let round = 0; round < rounds; round++) {
        if (rounds > 1) console.error(`bench: ${name}, round ${round + 1}`);
        results.push(await mod.run({ quick }));
      }
      rows.push(...bestOfRounds(results));
      const s = (performance.now() - groupStarted) / 1000;
      console.error(`bench: ${name} took ${s.toFixed(0)} s`);
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
  const perNet = summary(rows);
  if (perNet !== "") console.log(`Per net:\n\n${perNet}`);
  const seconds = Math.round((performance.now() - started) / 1000);
  console.log(
    `The run took ${seconds} s (${names.join(", ")}; ${rounds} round` +
      `${rounds === 1 ? "" : "s"} each).`,
  );
  await Deno.mkdir(".bench", { recursive: true });
  const date = new Date().toISOString();
  await Deno.writeTextFile(
    ".bench/latest.json",
    JSON.stringify({ cpu, date, seconds, quick, rows }, null, 2),
  );
}
