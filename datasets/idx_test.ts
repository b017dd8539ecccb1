import assert from "node:assert/strict";
import { join } from "node:path";
import { loadIdxFolder, parseIdx } from "./idx.ts";
import { gzip, idxBytes, someBytes, withTempDir } from "./_test_files.ts";

interface Split {
  images: Uint8Array;
  labels: Uint8Array;
}

/** Writes an MNIST-style folder of 4x3 images; returns what it wrote. */
function writeFolder(dir: string, nTrain: number, nTest: number, gz = false) {
  const make = (n: number, seed: number): Split => ({
    images: someBytes(n * 12, seed),
    labels: someBytes(n, seed + 1, 10),
  });
  const splits = { train: make(nTrain, 1), test: make(nTest, 7) };
  const write = (name: string, dims: number[], values: Uint8Array) => {
    const bytes = idxBytes(dims, values);
    Deno.writeFileSync(
      join(dir, gz ? `${name}.gz` : name),
      gz ? gzip(bytes) : bytes,
    );
  };
  write("train-images-idx3-ubyte", [nTrain, 4, 3], splits.train.images);
  write("train-labels-idx1-ubyte", [nTrain], splits.train.labels);
  write("t10k-images-idx3-ubyte", [nTest, 4, 3], splits.test.images);
  write("t10k-labels-idx1-ubyte", [nTest], splits.test.labels);
  return splits;
}

for (const gz of [false, true]) {
  Deno.test(`loadIdxFolder() round-trips ${gz ? "gzip" : "raw"} files`, () =>
    withTempDir((dir) => {
      const written = writeFolder(dir, 6, 3, gz);
      const { train, test } = loadIdxFolder(dir, { name: "toy" });
      assert.equal(train.name, "toy/train");
      assert.deepEqual(train.shape, [4, 3, 1]);
      assert.equal(train.length, 6);
      assert.equal(test.length, 3);
      assert.deepEqual([...train.labels], [...written.train.labels]);
      assert.deepEqual([...test.labels], [...written.test.labels]);
      assert.deepEqual(
        [...train.x].map((v) => Math.round(v * 255)),
        [...written.train.images],
      );
      assert.ok(
        train.x.every((v, i) =>
          v === Math.fround(written.train.images[i] / 255)
        ),
      );
    }));
}

Deno.test("loadIdxFolder() keeps the first maxTrain / maxTest", () =>
  withTempDir((dir) => {
    const written = writeFolder(dir, 6, 3);
    const { train, test } = loadIdxFolder(dir, { maxTrain: 2, maxTest: 1 });
    assert.equal(train.length, 2);
    assert.equal(test.length, 1);
    assert.deepEqual([...train.labels], [...written.train.labels.slice(0, 2)]);
  }));

Deno.test("parseIdx() reads any dimensions", () => {
  const values = someBytes(24, 3);
  const parsed = parseIdx(idxBytes([2, 3, 4], values), "f");
  assert.deepEqual(parsed.dims, [2, 3, 4]);
  assert.deepEqual([...parsed.data], [...values]);
});

Deno.test("parseIdx() rejects bad magic, types, truncation, extra bytes", () => {
  const good = idxBytes([3], new Uint8Array([1, 2, 3]));
  const bad = (bytes: Uint8Array, pattern: RegExp) =>
    assert.throws(
      () => parseIdx(bytes, "some/file"),
      (e: Error) =>
        e instanceof SyntaxError && e.message.includes('"some/file"') &&
        pattern.test(e.message),
    );
  bad(new Uint8Array([1, 2, 8, 1, 0, 0, 0, 0]), /magic number 0x01020801/);
  bad(new Uint8Array([0, 0, 0x0d, 1, 0, 0, 0, 0]), /value type 0x0d/);
  bad(good.subarray(0, 6), /truncated inside its header/);
  bad(good.subarray(0, 10), /truncated.*\[3\]/);
  bad(new Uint8Array([...good, 9, 9]), /2 bytes more/);
  bad(new Uint8Array([0, 0]), /fewer than the 4-byte magic/);
  bad(new Uint8Array([0x1f, 0x8b, 1, 2, 3]), /does not decompress/);
});

Deno.test("loadIdxFolder() reports each broken file by name", () =>
  withTempDir((dir) => {
    writeFolder(dir, 5, 2);
    const labels = join(dir, "train-labels-idx1-ubyte");
    const images = join(dir, "train-images-idx3-ubyte");

    Deno.writeFileSync(labels, idxBytes([5], new Uint8Array([1, 2, 10, 3, 4])));
    assert.throws(
      () => loadIdxFolder(dir),
      (e: Error) =>
        e instanceof RangeError && e.message.includes(labels) &&
        /label 10 at index 2 is outside \[0, 10\)/.test(e.message),
    );

    Deno.writeFileSync(labels, idxBytes([4], new Uint8Array(4)));
    assert.throws(
      () => loadIdxFolder(dir),
      (e: Error) =>
        e.message.includes(images) && e.message.includes(labels) &&
        /5 images but 4 labels/.test(e.message),
    );

    Deno.writeFileSync(labels, idxBytes([5, 1], new Uint8Array(5)));
    assert.throws(() => loadIdxFolder(dir), /expected one dimension/);

    const full = idxBytes([5, 4, 3], new Uint8Array(60));
    Deno.writeFileSync(images, full.subarray(0, full.length - 1));
    assert.throws(
      () => loadIdxFolder(dir),
      (e: Error) => e.message.includes(images) && /truncated/.test(e.message),
    );
  }));

Deno.test("loadIdxFolder() names the folder and the missing files", () =>
  withTempDir((dir) => {
    const missing = (where: string, pattern: RegExp) =>
      assert.throws(
        () => loadIdxFolder(where),
        (e: Error) =>
          e instanceof Deno.errors.NotFound && e.message.includes(where) &&
          pattern.test(e.message) && /fashion-mnist/.test(e.message),
      );
    missing(dir, /missing "train-images-idx3-ubyte".*"t10k-labels/);
    missing(join(dir, "nowhere"), /does not exist/);
    writeFolder(dir, 2, 2);
    Deno.removeSync(join(dir, "t10k-labels-idx1-ubyte"));
    missing(dir, /missing "t10k-labels-idx1-ubyte"; expected/);
  }));
