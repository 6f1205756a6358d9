/**
 * The one seeded pseudo-random generator of simdnet: xoshiro128** seeded by
 * splitmix32. Weight initialisation, validation splits, shuffles,
 * augmentation and dropout seeds all draw from it.
 *
 * `Math.random` cannot be seeded, and runs must be reproducible: the same
 * seed gives the same weights, shuffles and splits on every machine and
 * every run. The whole state is four uint32s ({@linkcode Rng.state}), so a
 * training checkpoint can save it and a resumed run continues the very
 * same sequence.
 *
 * @module
 */

const TWO_32 = 0x1_0000_0000;

/** The generator's whole state: four uint32s, not all zero. */
export type RngState = [number, number, number, number];

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * A seeded source of pseudo-random numbers (xoshiro128**) whose state can
 * be read and restored.
 *
 * @example
 * ```ts
 * import { Rng } from "./random.ts";
 *
 * const rng = new Rng(42);
 * const order = rng.permutation(10); // a shuffle of 0..9
 * const saved = rng.state; // four uint32s
 * const a = rng.next();
 * rng.state = saved;
 * console.log(rng.next() === a); // true
 * ```
 */
export class Rng {
  // Kept as int32 numbers (the bit pattern is what matters): the xor and
  // shift operators produce int32, and converting on every step is waste.
  #s0 = 0;
  #s1 = 0;
  #s2 = 0;
  #s3 = 0;

  /**
   * Starts the sequence for `seed`. Any finite number is accepted; its low
   * 32 bits and, for seeds above 2^32, its high bits folded in, select the
   * sequence.
   */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new RangeError(
        `seed must be a finite number, got ${seed}; pass an integer such as 42`,
      );
    }
    // Fold the high bits in so that seeds above 2^32 do not collide trivially.
    let sm = (Math.trunc(seed) ^ Math.trunc(seed / TWO_32)) >>> 0;
    // splitmix32 spreads a small seed over the 128 bits of state, as the
    // xoshiro authors recommend.
    const splitmix = (): number => {
      sm = (sm + 0x9e3779b9) | 0;
      let z = sm;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    const s: RngState = [splitmix(), splitmix(), splitmix(), splitmix()];
    // xoshiro must not start from the all-zero state.
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
    this.state = s;
  }

  /** The next 32-bit unsigned integer. */
  nextUint32(): number {
    const s1 = this.#s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.#s2 ^= this.#s0;
    this.#s3 ^= s1;
    this.#s1 = s1 ^ this.#s2;
    this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  /** A float in [0, 1) with 32 random bits. */
  next(): number {
    return this.nextUint32() / TWO_32;
  }

  /** A float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** An integer in [0, n), without modulo bias. `n` must be in 1..2^32. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_32) {
      throw new RangeError(`int(n) needs an integer n in 1..2^32, got ${n}`);
    }
    // Rejection sampling: values at or above `limit` would favour small results.
    const limit = TWO_32 - (TWO_32 % n);
    for (;;) {
      const r = this.nextUint32();
      if (r < limit) return r % n;
    }
  }

  /** Shuffles `array` in place (Fisher-Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i];
      array[i] = array[j];
      array[j] = tmp;
    }
    return array;
  }

  /** A random permutation of 0..n-1. */
  permutation(n: number): Uint32Array {
    if (!Number.isInteger(n) || n < 0) {
      throw new RangeError(`permutation(n) needs an integer n >= 0, got ${n}`);
    }
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    return this.shuffle(out);
  }

  /** A copy of the whole state, e.g. for a checkpoint. */
  get state(): RngState {
    return [this.#s0 >>> 0, this.#s1 >>> 0, this.#s2 >>> 0, this.#s3 >>> 0];
  }

  /**
   * Restores a state read from {@linkcode Rng.state}: the generator then
   * continues exactly where the saved one was. Throws a `RangeError` for
   * anything but four uint32s that are not all zero.
   */
  set state(s: readonly number[]) {
    const uint32 = (v: unknown) =>
      Number.isInteger(v) && (v as number) >= 0 && (v as number) < TWO_32;
    if (
      !Array.isArray(s) || s.length !== 4 || !s.every(uint32) ||
      s.every((v) => v === 0)
    ) {
      throw new RangeError(
        `a generator state is four uint32s, not all zero; got ${
          JSON.stringify(s)
        }`,
      );
    }
    this.#s0 = s[0]! | 0;
    this.#s1 = s[1]! | 0;
    this.#s2 = s[2]! | 0;
    this.#s3 = s[3]! | 0;
  }
}

/**
 * `new Rng(seed)`, for call sites that prefer a function.
 *
 * @example
 * ```ts
 * import { createRng } from "./random.ts";
 *
 * const order = createRng(42).permutation(10);
 * ```
 */
export function createRng(seed: number): Rng {
  return new Rng(seed);
}
