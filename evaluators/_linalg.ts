/**
 * Small dense linear algebra on the host, in float64: the symmetric
 * eigenproblem by cyclic Jacobi rotations, and vector helpers the curvature
 * evaluators share.
 *
 * @module
 */

/** Eigenvalues (descending) and eigenvectors (`vectors[j]` goes with j). */
export interface SymmetricEigen {
  values: number[];
  vectors: number[][];
}

/**
 * All eigenpairs of the symmetric matrix `a` (n x n, rows) by the cyclic
 * Jacobi method (Golub and Van Loan, Matrix Computations, sec. 8.5).
 * Exact to rounding for the small matrices it is meant for (n up to a few
 * hundred). `a` is not modified.
 */
export function symmetricEigen(a: ArrayLike<number>[]): SymmetricEigen {
  const n = a.length;
  const m = a.map((row) => Float64Array.from(row));
  const v = Array.from({ length: n }, (_, i) => {
    const row = new Float64Array(n);
    row[i] = 1;
    return row;
  });
  for (let sweep = 0; sweep < 100; sweep++) {
    if (offDiagonal(m) <= 1e-30 * (1 + diagonalNorm(m))) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) rotate(m, v, p, q);
    }
  }
  const order = [...Array(n).keys()].sort((i, j) => m[j][j] - m[i][i]);
  return {
    values: order.map((i) => m[i][i]),
    vectors: order.map((i) => v.map((row) => row[i])),
  };
}

function offDiagonal(m: Float64Array[]): number {
  let s = 0;
  for (let i = 0; i < m.length; i++) {
    for (let j = 0; j < m.length; j++) if (i !== j) s += m[i][j] ** 2;
  }
  return s;
}

function diagonalNorm(m: Float64Array[]): number {
  let s = 0;
  for (let i = 0; i < m.length; i++) s += m[i][i] ** 2;
  return s;
}

/** Zeroes m[p][q] by a rotation in the (p, q) plane; accumulates it in v. */
function rotate(m: Float64Array[], v: Float64Array[], p: number, q: number) {
  const apq = m[p][q];
  if (apq === 0) return;
  const theta = (m[q][q] - m[p][p]) / (2 * apq);
  const t = Math.sign(theta || 1) /
    (Math.abs(theta) + Math.sqrt(theta * theta + 1));
  const c = 1 / Math.sqrt(t * t + 1);
  const s = t * c;
  const n = m.length;
  for (let k = 0; k < n; k++) {
    const mkp = m[k][p];
    const mkq = m[k][q];
    m[k][p] = c * mkp - s * mkq;
    m[k][q] = s * mkp + c * mkq;
  }
  for (let k = 0; k < n; k++) {
    const mpk = m[p][k];
    const mqk = m[q][k];
    m[p][k] = c * mpk - s * mqk;
    m[q][k] = s * mpk + c * mqk;
  }
  for (let k = 0; k < n; k++) {
    const vkp = v[k][p];
    const vkq = v[k][q];
    v[k][p] = c * vkp - s * vkq;
    v[k][q] = s * vkp + c * vkq;
  }
}

/** The inner product of two vectors. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** The Euclidean norm of a vector. */
export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** y <- y + alpha x, in place. */
export function axpy(alpha: number, x: ArrayLike<number>, y: Float64Array) {
  for (let i = 0; i < y.length; i++) y[i] += alpha * x[i];
}

/** x <- alpha x, in place. */
export function scale(alpha: number, x: Float64Array): Float64Array {
  for (let i = 0; i < x.length; i++) x[i] *= alpha;
  return x;
}

/** The sample mean and its standard error (NaN below two values). */
export function meanAndStandardError(values: ArrayLike<number>): {
  mean: number;
  se: number;
} {
  const n = values.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += values[i];
  mean /= n;
  if (n < 2) return { mean, se: NaN };
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (values[i] - mean) ** 2;
  return { mean, se: Math.sqrt(ss / (n - 1) / n) };
}
