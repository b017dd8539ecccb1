/**
 * Test helpers: writers of small IDX and CIFAR files, and a temp folder.
 *
 * @module
 */
import { gzipSync } from "node:zlib";

/** The bytes of an unsigned-byte IDX file of dimensions `dims`. */
export function idxBytes(dims: number[], values: Uint8Array): Uint8Array {
  const header = new Uint8Array(4 + 4 * dims.length);
  const view = new DataView(header.buffer);
  view.setUint32(0, 0x0800 | dims.length);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  const out = new Uint8Array(header.length + values.length);
  out.set(header);
  out.set(values, header.length);
  return out;
}

/** Gzip-compresses `bytes`. */
export function gzip(bytes: Uint8Array): Uint8Array {
  const out = gzipSync(bytes);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** Bytes 0..255 drawn from a simple seeded sequence. */
export function someBytes(n: number, seed: number, max = 256): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 16) % max;
  }
  return out;
}

/** Runs `body` with a fresh temp folder, removed afterwards. */
export async function withTempDir(
  body: (dir: string) => void | Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "fisherlab_data_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
