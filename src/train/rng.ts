/**
 * The trainer's random generator: everything random in training (shuffle
 * order, dropout seeds, augmentation) is drawn from one of these, and its
 * state goes into every checkpoint so a resumed run draws the same numbers
 * as an uninterrupted one.
 *
 * The shared generator in src/util/random.ts keeps its state in a closure,
 * which cannot be saved; this one is SplitMix32 (a 32-bit Weyl sequence
 * through a mixing function), whose whole state is one uint32.
 *
 * @module
 */

import type { Rng } from "../util/random.ts";

const TWO_32 = 0x1_0000_0000;

/** A seeded generator with a saveable state. */
export class TrainRng implements Rng {
  #state: number;

  /** Starts the sequence for an integer `seed`. */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) {
      throw new RangeError(
        `seed must be a finite integer such as 42, got ${seed}`,
      );
    }
    this.#state = Math.trunc(seed) >>> 0;
  }

  /** The next uint32. */
  nextUint32(): number {
    this.#state = (this.#state + 0x9e3779b9) >>> 0;
    let z = this.#state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextUint32() / TWO_32;
  }

  /** A float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** An integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > TWO_32) {
      throw new RangeError(`int(n) needs an integer n in 1..2^32, got ${n}`);
    }
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
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = i;
    return this.shuffle(out);
  }

  /** The whole state, for a checkpoint. */
  get state(): number {
    return this.#state;
  }

  /** Restores a state saved from {@linkcode TrainRng.state}. */
  set state(s: number) {
    if (!Number.isInteger(s) || s < 0 || s >= TWO_32) {
      throw new RangeError(`a TrainRng state is a uint32, got ${s}`);
    }
    this.#state = s;
  }
}
