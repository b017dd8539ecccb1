import assert from "node:assert/strict";
import { join } from "node:path";
import {
  CIFAR100_FILES,
  CIFAR10_FILES,
  loadCifar10,
  loadCifar100,
  parseCifar,
} from "./cifar.ts";
import { someBytes, withTempDir } from "./_test_files.ts";

/** CIFAR records with the given label bytes and seeded pixels. */
function records(labels: number[][], seed: number) {
  const labelBytes = labels[0].length;
  const record = labelBytes + 3072;
  const bytes = new Uint8Array(labels.length * record);
  const pixels = someBytes(labels.length * 3072, seed);
  labels.forEach((l, i) => {
    bytes.set(l, i * record);
    bytes.set(pixels.subarray(i * 3072, (i + 1) * 3072), i * record + l.length);
  });
  return { bytes, pixels };
}

/** The HWC value at (row, col, channel) of CHW image `i` of `pixels`. */
function chw(pixels: Uint8Array, i: number, h: number, w: number, c: number) {
  return pixels[i * 3072 + c * 1024 + h * 32 + w];
}

function assertHwc(x: Float32Array, pixels: Uint8Array, n: number) {
  for (let i = 0; i < n; i++) {
    for (const [h, w] of [[0, 0], [0, 31], [5, 17], [31, 2], [31, 31]]) {
      for (let c = 0; c < 3; c++) {
        const got = x[i * 3072 + (h * 32 + w) * 3 + c];
        assert.equal(Math.round(got * 255), chw(pixels, i, h, w, c));
      }
    }
  }
  for (let k = 0; k < n * 3072; k++) {
    const i = Math.floor(k / 3072), p = Math.floor((k % 3072) / 3);
    const want = chw(pixels, i, Math.floor(p / 32), p % 32, k % 3);
    assert.equal(x[k], Math.fround(want / 255));
  }
}

Deno.test("loadCifar10() reads five batches and a test batch as NHWC", () =>
  withTempDir((dir) => {
    const labels: number[] = [];
    const pixels: Uint8Array[] = [];
    CIFAR10_FILES.train.forEach((file, f) => {
      const ls = [[f], [(f + 3) % 10]];
      const r = records(ls, f);
      Deno.writeFileSync(join(dir, file), r.bytes);
      labels.push(...ls.flat());
      pixels.push(r.pixels);
    });
    const test = records([[9], [0], [4]], 99);
    Deno.writeFileSync(join(dir, "test_batch.bin"), test.bytes);

    const splits = loadCifar10({ dir });
    assert.equal(splits.train.length, 10);
    assert.deepEqual(splits.train.shape, [32, 32, 3]);
    assert.equal(splits.train.numClasses, 10);
    assert.deepEqual([...splits.train.labels], labels);
    assert.deepEqual([...splits.test.labels], [9, 0, 4]);
    const all = new Uint8Array(pixels.length * 2 * 3072);
    pixels.forEach((p, f) => all.set(p, f * 2 * 3072));
    assertHwc(splits.train.x, all, 10);
    assertHwc(splits.test.x, test.pixels, 3);

    const few = loadCifar10({ dir, maxTrain: 3, maxTest: 1 });
    assert.deepEqual([...few.train.labels], labels.slice(0, 3));
    assert.equal(few.test.length, 1);
  }));

Deno.test("loadCifar100() chooses fine or coarse labels", () =>
  withTempDir((dir) => {
    const train = records([[3, 77], [19, 99], [0, 0]], 5);
    const test = records([[7, 12]], 6);
    Deno.writeFileSync(join(dir, CIFAR100_FILES.train[0]), train.bytes);
    Deno.writeFileSync(join(dir, CIFAR100_FILES.test[0]), test.bytes);
    const fine = loadCifar100({ dir });
    assert.equal(fine.train.name, "cifar100-fine/train");
    assert.equal(fine.train.numClasses, 100);
    assert.deepEqual([...fine.train.labels], [77, 99, 0]);
    assertHwc(fine.train.x, train.pixels, 3);
    const coarse = loadCifar100({ dir, labels: "coarse" });
    assert.equal(coarse.test.numClasses, 20);
    assert.deepEqual([...coarse.train.labels], [3, 19, 0]);
    assert.deepEqual([...coarse.test.labels], [7]);
    assertHwc(coarse.test.x, test.pixels, 1);
  }));

Deno.test("parseCifar() rejects empty, truncated, oversized files", () => {
  const layout = { labelBytes: 1, numClasses: [10] } as const;
  const { bytes } = records([[1], [2]], 1);
  const bad = (b: Uint8Array, pattern: RegExp) =>
    assert.throws(
      () => parseCifar(b, "x/data_batch_1.bin", layout),
      (e: Error) =>
        e instanceof SyntaxError &&
        e.message.includes('"x/data_batch_1.bin"') && pattern.test(e.message),
    );
  bad(new Uint8Array(0), /is empty/);
  bad(bytes.subarray(0, 3073 + 100), /1 records and 100 bytes/);
  bad(new Uint8Array([...bytes, 0, 0]), /2 records and 2 bytes/);
  // A CIFAR-100 file read as CIFAR-10 does not divide into records.
  bad(records([[1, 2], [3, 4]], 2).bytes, /other CIFAR version/);
});

Deno.test("parseCifar() rejects labels out of range, naming the record", () => {
  const ten = records([[1], [10]], 3).bytes;
  assert.throws(
    () => parseCifar(ten, "b.bin", { labelBytes: 1, numClasses: [10] }),
    (e: Error) =>
      e instanceof RangeError && e.message.includes('"b.bin"') &&
      /label 10 in record 1 \(byte 3073\)/.test(e.message),
  );
  const hundred = records([[20, 5]], 3).bytes;
  assert.throws(
    () =>
      parseCifar(hundred, "t.bin", {
        labelBytes: 2,
        labelIndex: 1,
        numClasses: [20, 100],
      }),
    /label 20 in record 0 \(byte 0\) is outside \[0, 20\)/,
  );
});

Deno.test("loadCifar10() names the folder and the files when missing", () =>
  withTempDir((dir) => {
    Deno.writeFileSync(join(dir, "data_batch_1.bin"), records([[1]], 1).bytes);
    assert.throws(
      () => loadCifar10({ dir }),
      (e: Error) =>
        e instanceof Deno.errors.NotFound && e.message.includes(dir) &&
        /missing "data_batch_2.bin".*"data_batch_5.bin"/.test(e.message) &&
        e.message.includes("cs.toronto.edu"),
    );
    assert.throws(
      () => loadCifar100({ dir: join(dir, "none") }),
      /folder does not exist; expected train.bin, test.bin/,
    );
    assert.throws(
      () => loadCifar100({ dir, labels: "both" as "fine" }),
      RangeError,
    );
  }));
