/**
 * The fast recipe's initialisers: the partial identity ("dirac") of conv
 * kernels, and PyTorch's default uniform, which the recipe was tuned with.
 *
 * @module
 */

import type { Rng } from "../util/random.ts";
import { fans } from "./initializers.ts";
import type { Initializer } from "./layer.ts";

/**
 * Makes the first `min(in, out)` filters of a Keras conv kernel
 * `[kh, kw, in, out]` (row-major `values`, changed in place) identities:
 * filter `o` is 1 at the centre tap of input channel `o` and 0 elsewhere,
 * so it passes channel `o` through unchanged under `same` padding. The
 * other filters keep their values. This is airbench's
 * `dirac_(w[:w.size(1)])`: the network starts close to passing its
 * whitened input along, which trains faster than random filters alone.
 * The centre of an even side is the tap at `floor(side / 2)`, as PyTorch
 * and tfjs `same` padding place it. Returns `values`.
 */
export function diracInit(
  values: Float32Array,
  shape: readonly number[],
): Float32Array {
  const [kh, kw, cin, cout] = shape;
  if (
    shape.length !== 4 || !kh || !kw || !cin || !cout ||
    values.length !== kh * kw * cin * cout
  ) {
    throw new RangeError(
      `diracInit needs a conv kernel [kh, kw, in, out] and its values, got ` +
        `shape [${shape}] with ${values.length} values`,
    );
  }
  const cy = Math.floor(kh / 2);
  const cx = Math.floor(kw / 2);
  const n = Math.min(cin, cout);
  for (let tap = 0; tap < kh * kw; tap++) {
    for (let i = 0; i < cin; i++) {
      const row = (tap * cin + i) * cout;
      for (let o = 0; o < n; o++) values[row + o] = 0;
    }
  }
  for (let o = 0; o < n; o++) values[((cy * kw + cx) * cin + o) * cout + o] = 1;
  return values;
}

/**
 * PyTorch's default initialiser of `Conv2d` and `Linear` weights
 * (Kaiming uniform with `a = sqrt(5)`): U(-b, b) with `b = 1 / sqrt(fan_in)`,
 * Keras' `VarianceScaling(scale = 1/3, mode = "fan_in", "uniform")`. The
 * recipe's learning rates were tuned with it; Glorot would start the
 * wide layers at other scales.
 */
export function torchUniform(rng: Rng): Initializer {
  return (shape) => {
    const [fanIn] = fans(shape);
    const bound = 1 / Math.sqrt(fanIn);
    const n = shape.reduce((a, b) => a * b, 1);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (2 * rng.next() - 1) * bound;
    return out;
  };
}
