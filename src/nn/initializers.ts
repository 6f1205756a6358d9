/**
 * Keras' default initialisers, computed on the JS side from a seeded
 * generator so that weights are bit-identical on every backend.
 *
 * @module
 */

import type { Rng } from "../util/random.ts";
import type { Initializer } from "./layer.ts";

/**
 * Fan-in and fan-out as Keras computes them: for a conv kernel
 * `[kh, kw, in, out]` the receptive field `kh * kw` multiplies both.
 */
export function fans(shape: readonly number[]): [number, number] {
  if (shape.length < 2) {
    throw new Error(
      `glorot_uniform needs a kernel of rank >= 2, got shape [${shape}]`,
    );
  }
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  const fanIn = (shape[shape.length - 2] ?? 1) * receptive;
  const fanOut = (shape[shape.length - 1] ?? 1) * receptive;
  return [fanIn, fanOut];
}

/**
 * Glorot (Xavier) uniform: U(-limit, limit) with
 * `limit = sqrt(6 / (fan_in + fan_out))`, values in row-major order of
 * `shape`.
 */
export function glorotUniform(rng: Rng): Initializer {
  return (shape) => {
    const [fanIn, fanOut] = fans(shape);
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    const n = shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (2 * rng.next() - 1) * limit;
    return out;
  };
}

/** Zeros, Keras' default bias initialiser. */
export const zeros: Initializer = (shape) =>
  new Float32Array(shape.reduce((a, b) => a * b, 1));
