/**
 * NumPy's pairwise summation, so averages round exactly as `np.mean`,
 * `np.average` and `ndarray.std` do (the last bit can decide how a value
 * rounds to two decimals in a report).
 *
 * @module
 */

/** Rounds each intermediate result: identity for float64, `Math.fround` for float32. */
export type Rounding = (x: number) => number;

const float64: Rounding = (x) => x;

/** NumPy's blocking factor for the unrolled pairwise sum. */
const BLOCK = 128;

function pairwise(
  a: ArrayLike<number>,
  start: number,
  n: number,
  round: Rounding,
): number {
  if (n < 8) {
    let res = 0;
    for (let i = 0; i < n; i++) res = round(res + (a[start + i] as number));
    return res;
  }
  if (n <= BLOCK) {
    const r: number[] = [];
    for (let j = 0; j < 8; j++) r.push(a[start + j] as number);
    let i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (let j = 0; j < 8; j++) {
        r[j] = round((r[j] as number) + (a[start + i + j] as number));
      }
    }
    const [r0, r1, r2, r3, r4, r5, r6, r7] = r as [
      number,
      number,
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    let res = round(
      round(round(r0 + r1) + round(r2 + r3)) +
        round(round(r4 + r5) + round(r6 + r7)),
    );
    for (; i < n; i++) res = round(res + (a[start + i] as number));
    return res;
  }
  let n2 = Math.floor(n / 2);
  n2 -= n2 % 8;
  return round(
    pairwise(a, start, n2, round) + pairwise(a, start + n2, n - n2, round),
  );
}

/** `np.sum` of a contiguous 1-D array, in float64 or (with `Math.fround`) float32. */
export function numpySum(
  values: ArrayLike<number>,
  round: Rounding = float64,
): number {
  return pairwise(values, 0, values.length, round);
}

/** `np.mean` of a contiguous 1-D array. */
export function numpyMean(
  values: ArrayLike<number>,
  round: Rounding = float64,
): number {
  return round(numpySum(values, round) / values.length);
}
