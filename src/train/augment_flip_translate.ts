/**
 * The fast recipe's augmentation (airbench94): a random translation by up
 * to `pad` pixels with reflection padding, and the "alternating flip".
 * Each image gets one random flip bit for the whole run; in even epochs
 * (0, 2, ...) it is mirrored when its bit is set, in odd epochs when it is
 * not. Every image is thus seen both ways in any two consecutive epochs,
 * where independent coin flips repeat the same view half the time; the
 * paper (arXiv 2404.00498) finds it better than random flipping wherever
 * flipping helps at all.
 *
 * Works on the uint8 `ImageSet` and writes the float batch (`byte / 255`)
 * in one pass, so augmentation costs no more than the conversion
 * `toFloatBatch` already does.
 *
 * @module
 */

import { checkImageSet, imageBytes, type ImageSet } from "../data/image_set.ts";
import type { Rng } from "../util/random.ts";

/** Options of {@linkcode flipTranslateBatch}. */
export interface FlipTranslateOptions {
  /**
   * Each image's flip bit from {@linkcode alternatingFlipBits}, or null for
   * no flipping.
   */
  flips: Uint8Array | null;
  /** The epoch, from 0: odd epochs invert the flip bits. */
  epoch: number;
  /**
   * Largest shift in pixels along each axis (reflection padding of this
   * size, then a random crop); default 2, airbench's. 0 turns it off.
   */
  pad?: number;
  /** Draws the shifts: two `int(2 * pad + 1)` per image, rows first. */
  rng: Rng;
}

/**
 * One flip bit per image, each set with probability 1/2, drawn from `rng`
 * (one `next()` per image). Draw them once per run, e.g. from a generator
 * seeded by the run's seed, so that a resumed run gets the same bits.
 */
export function alternatingFlipBits(count: number, rng: Rng): Uint8Array {
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(
      `alternatingFlipBits needs a count >= 0, got ${count}`,
    );
  }
  const bits = new Uint8Array(count);
  for (let i = 0; i < count; i++) bits[i] = rng.next() < 0.5 ? 1 : 0;
  return bits;
}

/** Whether image `index` is mirrored in `epoch` under the alternating flip. */
export function flippedInEpoch(
  flips: Uint8Array,
  index: number,
  epoch: number,
): boolean {
  return ((flips[index]! ^ epoch) & 1) === 1;
}

/**
 * Reflection without repeating the edge (NumPy's and PyTorch's `reflect`):
 * -1 maps to 1, `n` to `n - 2`. `i` must be within `n - 1` of the range.
 */
export function reflectIndex(i: number, n: number): number {
  if (i < 0) return -i;
  if (i >= n) return 2 * (n - 1) - i;
  return i;
}

/**
 * The images at `indices` as one float32 NHWC batch (`byte / 255`), each
 * shifted by a random `(dy, dx)` in `[-pad, pad]^2` with reflection at the
 * borders (the crop of the reflect-padded image at `(pad + dy, pad + dx)`)
 * and mirrored when the alternating flip says so. The shifts are drawn from
 * `options.rng` in batch order; pass `out` to reuse a buffer.
 */
export function flipTranslateBatch(
  set: ImageSet,
  indices: ArrayLike<number>,
  options: FlipTranslateOptions,
  out?: Float32Array,
): Float32Array {
  checkImageSet(set, "flipTranslateBatch");
  const [h, w, c] = set.shape;
  const pad = options.pad ?? 2;
  if (!Number.isInteger(pad) || pad < 0 || pad >= Math.min(h, w)) {
    throw new RangeError(
      `flipTranslateBatch: pad must be a whole number from 0 to ` +
        `${Math.min(h, w) - 1} for ${h}x${w} images, got ${pad}`,
    );
  }
  const { flips, epoch } = options;
  if (flips && flips.length < set.count) {
    throw new RangeError(
      `flipTranslateBatch: ${flips.length} flip bits for ${set.count} ` +
        `images; draw them with alternatingFlipBits(set.count, rng)`,
    );
  }
  const size = imageBytes(set.shape);
  const result = out ?? new Float32Array(indices.length * size);
  if (result.length !== indices.length * size) {
    throw new RangeError(
      `flipTranslateBatch: the output buffer has ${result.length} floats, ` +
        `the batch needs ${indices.length * size}`,
    );
  }
  const cols = new Int32Array(w);
  for (let b = 0; b < indices.length; b++) {
    const index = indices[b]!;
    if (!Number.isInteger(index) || index < 0 || index >= set.count) {
      throw new RangeError(
        `flipTranslateBatch: index ${index} is outside 0..${set.count - 1}`,
      );
    }
    const dy = pad > 0 ? options.rng.int(2 * pad + 1) - pad : 0;
    const dx = pad > 0 ? options.rng.int(2 * pad + 1) - pad : 0;
    const mirror = flips !== null && flippedInEpoch(flips, index, epoch);
    // Mirror first, then shift: the column of the mirrored image at
    // reflect(x + dx) is w - 1 - reflect(x + dx) of the original.
    for (let x = 0; x < w; x++) {
      const r = reflectIndex(x + dx, w);
      cols[x] = (mirror ? w - 1 - r : r) * c;
    }
    const src = index * size;
    let dst = b * size;
    for (let y = 0; y < h; y++) {
      const row = src + reflectIndex(y + dy, h) * w * c;
      for (let x = 0; x < w; x++) {
        const p = row + cols[x]!;
        for (let ch = 0; ch < c; ch++) {
          result[dst++] = set.images[p + ch]! / 255;
        }
      }
    }
  }
  return result;
}
