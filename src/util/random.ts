/**
 * A small seeded pseudo-random generator (xoshiro128**, seeded by splitmix32).
 *
 * `Math.random` cannot be seeded, and runs must be reproducible: the same seed
 * gives the same shuffles and splits on every machine and every run.
 *
 * @module
 */

/** A seeded source of pseudo-random numbers. */
export interface Rng {
  /** The next 32-bit unsigned integer. */
  nextUint32(): number;
  /** A float in [0, 1) with 32 random bits. */
  next(): number;
  /** An integer in [0, n), without modulo bias. `n` must be in 1..2^32. */
  int(n: number): number;
  /** Shuffles `array` in place (Fisher-Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T;
  /** A random permutation of 0..n-1. */
  permutation(n: number): Uint32Array;
}

const TWO_32 = 0x1_0000_0000;

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Creates a generator from an integer seed. Any finite number is accepted;
 * only its low 32 bits (and, for large seeds, the high bits folded in) matter.
 *
 * @example
 * ```ts
 * const rng = createRng(42);
 * const order = rng.permutation(10);
 * ```
 */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) {
    throw new RangeError(
      `seed must be a finite number, got ${seed}; pass an integer such as 42`,
    );
  }
  // Fold the high bits in so that seeds above 2^32 do not collide trivially.
  let sm = (Math.trunc(seed) ^ Math.trunc(seed / TWO_32)) >>> 0;
  const splitmix = (): number => {
    sm = (sm + 0x9e3779b9) | 0;
    let z = sm;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
  let s0 = splitmix();
  let s1 = splitmix();
  let s2 = splitmix();
  let s3 = splitmix();
  // xoshiro must not start from the all-zero state.
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1;

  const nextUint32 = (): number => {
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl(s3, 11);
    return result;
  };

  const int = (n: number): number => {
    if (!Number.isInteger(n) || n < 1 || n > TWO_32) {
      throw new RangeError(`int(n) needs an integer n in 1..2^32, got ${n}`);
    }
    // Rejection sampling: values at or above `limit` would favour small results.
    const limit = TWO_32 - (TWO_32 % n);
    for (;;) {
      const r = nextUint32();
      if (r < limit) return r % n;
    }
  };

  const rng: Rng = {
    nextUint32,
    next: () => nextUint32() / TWO_32,
    int,
    shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
      for (let i = array.length - 1; i > 0; i--) {
        const j = int(i + 1);
        const tmp = array[i];
        array[i] = array[j];
        array[j] = tmp;
      }
      return array;
    },
    permutation(n: number): Uint32Array {
      if (!Number.isInteger(n) || n < 0) {
        throw new RangeError(
          `permutation(n) needs an integer n >= 0, got ${n}`,
        );
      }
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = i;
      return rng.shuffle(out);
    },
  };
  return rng;
}
