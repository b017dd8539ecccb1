import assert from "node:assert/strict";
import { Random } from "../core/random.ts";
import { symmetricEigen } from "./_linalg.ts";

Deno.test("symmetricEigen() finds the eigenvalues of a 2x2 matrix", () => {
  const { values, vectors } = symmetricEigen([[2, 1], [1, 2]]);
  assert.ok(Math.abs(values[0] - 3) < 1e-12);
  assert.ok(Math.abs(values[1] - 1) < 1e-12);
  assert.ok(Math.abs(Math.abs(vectors[0][0]) - Math.SQRT1_2) < 1e-12);
});

Deno.test("symmetricEigen() reconstructs a random symmetric matrix", () => {
  const random = new Random(3);
  const n = 12;
  const a = Array.from({ length: n }, () => new Array(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) a[i][j] = a[j][i] = random.normal();
  }
  const { values, vectors } = symmetricEigen(a);
  for (let k = 1; k < n; k++) assert.ok(values[k] <= values[k - 1]);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) {
        s += values[k] * vectors[k][i] * vectors[k][j];
      }
      assert.ok(Math.abs(s - a[i][j]) < 1e-10, `entry ${i},${j}`);
    }
  }
});
