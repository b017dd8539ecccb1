/**
 * The data pipeline's throughput, to show it is not the bottleneck next to
 * a training step (about 230 ms per batch of 128 on wasm, i.e. some 560
 * examples/s):
 *
 * - MNIST batches of 128, shuffled, gathered and uploaded as tensors;
 * - CIFAR-shaped (32x32x3, synthetic) batches of 128 with random crop,
 *   flip and normalization, uploaded as tensors;
 * - the same augmentation alone, on host memory;
 * - loading MNIST from its IDX files (uncached).
 *
 * Run alone: `deno run -A bench/data.ts [--quick]` prints the rows as JSON.
 *
 * @module
 */
import { useBackend } from "../core/backend.ts";
import { Random } from "../core/random.ts";
import { defaultAugmentation } from "../datasets/augmentation.ts";
import { batches } from "../datasets/batches.ts";
import { createDataset } from "../datasets/create_dataset.ts";
import { loadIdxFolder } from "../datasets/idx.ts";
import { loadMnist, mnistDataFolder } from "../datasets/mnist.ts";
import type { Dataset } from "../datasets/types.ts";
import { median } from "./_measure.ts";
import type { BenchRow } from "./row.ts";

const BATCH = 128;

/** Times the workloads; see the module documentation. */
export async function run(options: { quick: boolean }): Promise<BenchRow[]> {
  await useBackend("wasm");
  const repeats = options.quick ? 3 : 7;
  const batchesPerRun = options.quick ? 40 : 200;
  const rows: BenchRow[] = [];

  const loadMs = median(
    Array.from(
      { length: options.quick ? 1 : 3 },
      () => timeMs(() => loadIdxFolder(mnistDataFolder(), { name: "mnist" })),
    ),
  );
  rows.push({
    group: "data",
    workload: "load MNIST, 60k+10k from IDX",
    unit: "ms",
    fisherlab: loadMs,
    higherIsBetter: false,
  });

  const mnist = loadMnist().train;
  rows.push({
    group: "data",
    workload: `MNIST batches of ${BATCH}, shuffled, to tensors`,
    unit: "examples/s",
    fisherlab: batchRate(mnist, batchesPerRun, repeats),
    higherIsBetter: true,
    note: "wasm backend; no augmentation",
  });

  const cifar = cifarShaped(BATCH * batchesPerRun);
  const augment = defaultAugmentation("cifar10")!;
  rows.push({
    group: "data",
    workload: `32x32x3 batches of ${BATCH}, ${augment.name}, to tensors`,
    unit: "examples/s",
    fisherlab: batchRate(cifar, batchesPerRun, repeats, true),
    higherIsBetter: true,
    note: "synthetic CIFAR-shaped data; wasm backend",
  });

  const host = new Float32Array(BATCH * 32 * 32 * 3);
  const rng = new Random(2);
  const rates = Array.from({ length: repeats }, () => {
    const ms = timeMs(() => {
      for (let b = 0; b < batchesPerRun; b++) {
        host.set(cifar.x.subarray(0, host.length));
        augment.apply(host, [32, 32, 3], rng);
      }
    });
    return (BATCH * batchesPerRun) / (ms / 1000);
  });
  rows.push({
    group: "data",
    workload: `${augment.name} on host, 32x32x3`,
    unit: "examples/s",
    fisherlab: median(rates),
    higherIsBetter: true,
    note: "typed-array code only, no tensors",
  });
  return rows;
}

/** Examples per second of one pass of `count` batches, median of repeats. */
function batchRate(
  ds: Dataset,
  count: number,
  repeats: number,
  augmented = false,
): number {
  const rng = new Random(1);
  const augment = augmented ? defaultAugmentation("cifar10") : undefined;
  const rates = Array.from({ length: repeats }, () => {
    let seen = 0;
    const ms = timeMs(() => {
      const it = batches(ds, { batchSize: BATCH, rng, augment });
      for (let b = 0; b < count; b++) {
        const next = it.next();
        if (next.done) break;
        seen += next.value.size;
        next.value.x.dispose();
        next.value.y.dispose();
      }
    });
    return seen / (ms / 1000);
  });
  return median(rates);
}

/**
 * `n` synthetic CIFAR-shaped examples (32x32x3, values uniform in [0, 1),
 * labels uniform over 10 classes), the same for every call with that `n`.
 */
export function cifarShaped(n: number): Dataset {
  const rng = new Random(0);
  const x = new Float32Array(n * 32 * 32 * 3);
  for (let i = 0; i < x.length; i++) x[i] = rng.next();
  const y = new Int32Array(n).map(() => rng.int(10));
  return createDataset(x, y, {
    shape: [32, 32, 3],
    numClasses: 10,
    name: "cifar-shaped",
  });
}

function timeMs(work: () => unknown): number {
  const start = performance.now();
  work();
  return performance.now() - start;
}

if (import.meta.main) {
  const rows = await run({ quick: Deno.args.includes("--quick") });
  // deno-lint-ignore no-console -- the command-line entry point prints JSON
  console.log(JSON.stringify(rows, null, 2));
}
