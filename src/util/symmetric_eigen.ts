/**
 * Eigendecomposition of a small real symmetric matrix by cyclic Jacobi
 * rotations, in float64. The fast recipe's whitening needs it for a 12x12
 * patch covariance; Jacobi is short, unconditionally stable and accurate to
 * a few ulps on such sizes, where speed does not matter (microseconds).
 *
 * @module
 */

/** Eigenvalues and eigenvectors of a symmetric matrix. */
export interface SymmetricEigen {
  /** The eigenvalues, largest first. */
  values: Float64Array;
  /**
   * The orthonormal eigenvectors, one per row of `n` values (row `k` goes
   * with `values[k]`), row-major `n x n`.
   */
  vectors: Float64Array;
}

/**
 * Eigenvalues (largest first) and orthonormal eigenvectors of the symmetric
 * `n x n` matrix `a` (row-major; only its symmetry is assumed, the upper
 * and lower halves are averaged). Sweeps until every off-diagonal value is
 * negligible against the diagonal, at most 100 sweeps.
 */
export function symmetricEigen(
  a: ArrayLike<number>,
  n: number,
): SymmetricEigen {
  if (!Number.isInteger(n) || n < 1 || a.length !== n * n) {
    throw new RangeError(
      `symmetricEigen needs an n x n matrix (n >= 1), got ${a.length} ` +
        `values for n = ${n}`,
    );
  }
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = (a[i * n + j]! + a[j * n + i]!) / 2;
      if (!Number.isFinite(v)) {
        throw new RangeError(
          `symmetricEigen needs finite values, got ${v} at (${i}, ${j})`,
        );
      }
      m[i * n + j] = v;
    }
  }
  // v holds the accumulated rotations; its columns become the eigenvectors.
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    if (offDiagonalSmall(m, n)) break;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) rotate(m, v, n, p, q);
    }
  }
  const order = Array.from({ length: n }, (_, i) => i)
    .sort((i, j) => m[j * n + j]! - m[i * n + i]!);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  order.forEach((col, k) => {
    values[k] = m[col * n + col]!;
    for (let r = 0; r < n; r++) vectors[k * n + r] = v[r * n + col]!;
  });
  return { values, vectors };
}

function offDiagonalSmall(m: Float64Array, n: number): boolean {
  let off = 0;
  let diag = 0;
  for (let i = 0; i < n; i++) {
    diag += m[i * n + i]! * m[i * n + i]!;
    for (let j = 0; j < n; j++) if (i !== j) off += m[i * n + j]! ** 2;
  }
  return off <= 1e-30 * diag || off === 0;
}

// One Jacobi rotation zeroing m[p][q] (Golub and Van Loan, algorithm
// 8.4.1, with the smaller rotation angle for stability).
function rotate(
  m: Float64Array,
  v: Float64Array,
  n: number,
  p: number,
  q: number,
): void {
  const apq = m[p * n + q]!;
  if (apq === 0) return;
  const theta = (m[q * n + q]! - m[p * n + p]!) / (2 * apq);
  const t = Math.sign(theta || 1) /
    (Math.abs(theta) + Math.sqrt(theta * theta + 1));
  const c = 1 / Math.sqrt(t * t + 1);
  const s = t * c;
  for (let k = 0; k < n; k++) {
    const mkp = m[k * n + p]!;
    const mkq = m[k * n + q]!;
    m[k * n + p] = c * mkp - s * mkq;
    m[k * n + q] = s * mkp + c * mkq;
  }
  for (let k = 0; k < n; k++) {
    const mpk = m[p * n + k]!;
    const mqk = m[q * n + k]!;
    m[p * n + k] = c * mpk - s * mqk;
    m[q * n + k] = s * mpk + c * mqk;
  }
  for (let k = 0; k < n; k++) {
    const vkp = v[k * n + p]!;
    const vkq = v[k * n + q]!;
    v[k * n + p] = c * vkp - s * vkq;
    v[k * n + q] = s * vkp + c * vkq;
  }
}
