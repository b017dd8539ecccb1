import assert from "node:assert/strict";
import {
  type Blas,
  defaultBlasPaths,
  loadBlas,
  type SgemmArgs,
} from "./blas.ts";
import { dnnlBlas, loadDnnl } from "./dnnl.ts";

const found = loadBlas();
const ignore = !found.available;
const skipped = found.available ? "" : ` (skipped: ${found.reason})`;
const dnnlFound = loadDnnl();

/**
 * The libraries the native pack multiplies with: the system BLAS and
 * oneDNN's sgemm, each checked by the same tests; a missing one is a
 * skipped test that says why.
 */
const LIBRARIES: { name: string; blas?: Blas; why?: string }[] = [
  found.available
    ? { name: "loadBlas()", blas: found.blas }
    : { name: "loadBlas()", why: found.reason },
  dnnlFound.available
    ? { name: "dnnlBlas()", blas: dnnlBlas(dnnlFound.dnnl) }
    : { name: "dnnlBlas()", why: dnnlFound.reason },
];

/** C = alpha op(A) op(B) + beta C, the plain way, in float64. */
function naive(args: Required<SgemmArgs>): Float64Array {
  const { m, n, k, a, b, c, lda, ldb, ldc, alpha, beta } = args;
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) {
        const av = args.transA ? a[p * lda + i] : a[i * lda + p];
        const bv = args.transB ? b[j * ldb + p] : b[p * ldb + j];
        sum += av * bv;
      }
      out[i * n + j] = alpha * sum + beta * c[i * ldc + j];
    }
  }
  return out;
}

function filled(length: number, seed: number): Float32Array {
  return Float32Array.from({ length }, (_, i) => Math.sin(i * 7.1 + seed));
}

for (const { name, blas, why } of LIBRARIES) {
  const skip = blas ? "" : ` (skipped: ${why})`;

  Deno.test({
    name: `${name} sgemm matches a plain product with transposes, ` +
      `leading dimensions, alpha and beta${skip}`,
    ignore: !blas,
    fn: () => {
      if (!blas) return;
      const [m, n, k, pad] = [5, 4, 3, 2];
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const lda = (transA ? m : k) + pad;
          const ldb = (transB ? k : n) + pad;
          const ldc = n + pad;
          const args = {
            m,
            n,
            k,
            transA,
            transB,
            lda,
            ldb,
            ldc,
            alpha: 0.5,
            beta: 2,
            a: filled((transA ? k : m) * lda, 1),
            b: filled((transB ? n : k) * ldb, 2),
            c: filled(m * ldc, 3),
          };
          const expected = naive({ ...args, c: args.c.slice() });
          blas.sgemm(args);
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              const got = args.c[i * ldc + j];
              assert.ok(Math.abs(got - expected[i * n + j]) < 1e-5);
            }
          }
        }
      }
    },
  });

  Deno.test({
    name: `${name} sgemm reads views at their offset${skip}`,
    ignore: !blas,
    fn: () => {
      if (!blas) return;
      const store = new Float32Array([9, 1, 2, 3, 4, 9]);
      const c = new Float32Array(4);
      const identity = new Float32Array([1, 0, 0, 1]);
      blas.sgemm({
        m: 2,
        n: 2,
        k: 2,
        a: store.subarray(1, 5),
        b: identity,
        c,
      });
      assert.deepEqual([...c], [1, 2, 3, 4]);
    },
  });

  Deno.test({
    name: `${name} sgemv matches a plain product, plain and ` +
      `transposed, with a leading dimension${skip}`,
    ignore: !blas,
    fn: () => {
      if (!blas) return;
      const [m, n] = [4, 3];
      for (
        const [trans, lda] of [[false, n], [true, n], [true, n + 2]] as const
      ) {
        const a = filled(m * lda, 1);
        const x = filled(trans ? m : n, 2);
        const y = filled(trans ? n : m, 3);
        const expected = naive({
          m: trans ? n : m,
          n: 1,
          k: trans ? m : n,
          a,
          b: x,
          c: y.slice(),
          transA: trans,
          transB: false,
          lda,
          ldb: 1,
          ldc: 1,
          alpha: 2,
          beta: 0.5,
        });
        blas.sgemv({ m, n, a, x, y, trans, lda, alpha: 2, beta: 0.5 });
        expected.forEach((v, i) => assert.ok(Math.abs(v - y[i]) < 1e-5));
      }
    },
  });
}

Deno.test({
  name: `loadBlas() threads can be read and set${skipped}`,
  ignore,
  fn: () => {
    if (!found.available) return;
    const before = found.blas.threads();
    if (before === undefined) return;
    found.blas.setThreads(1);
    assert.equal(found.blas.threads(), 1);
    found.blas.setThreads(before);
    assert.equal(found.blas.threads(), before);
  },
});

Deno.test("loadBlas() reports a missing library without throwing", () => {
  const missing = loadBlas({ paths: ["/nonexistent/libblas.so"] });
  assert.equal(missing.available, false);
  if (missing.available) return;
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    assert.match(missing.reason, /FFI is not permitted; run Deno with/);
    return;
  }
  assert.match(missing.reason, /^Cannot load a BLAS: .*"\/nonexistent/);
  assert.match(missing.reason, /FISHERLAB_BLAS/);
});

Deno.test("defaultBlasPaths() lists OpenBLAS or Accelerate first", () => {
  const paths = defaultBlasPaths();
  assert.ok(paths.length > 0);
  assert.ok(paths.some((p) => /openblas|Accelerate/i.test(p)));
});
