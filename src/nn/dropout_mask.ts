/**
 * Dropout masks from a counter-based hash, the same bit for bit on every
 * backend: the wasm backend computes them in simdnet's kernel pool
 * (`wasm/assembly/dropout.ts`), the others with the loop below. Element `i` keeps
 * its activation when `u_i = (h(seed, i) >>> 8) / 2^24 >= rate`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import {
  DROPOUT_MASK,
  type DropoutMaskAttrs,
} from "../kernels/custom_kernels.ts";

/** The mask's value for element `i`: 0, or `scale` = f32(1 / (1 - rate)). */
export function maskBit(seed: number, i: number, rate: number): boolean {
  let h = (seed + Math.imul(i, 0x9e3779b9)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x21f0aaad);
  h ^= h >>> 15;
  h = Math.imul(h, 0x735a2d97);
  h ^= h >>> 15;
  return (h >>> 8) / 16777216 >= Math.fround(rate);
}

/** The mask as values, computed in JS. */
export function dropoutMaskValues(
  size: number,
  rate: number,
  seed: number,
): Float32Array {
  const scale = Math.fround(1 / (1 - rate));
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = maskBit(seed, i, rate) ? scale : 0;
  return out;
}

/**
 * A mask of `shape` holding 0 or `1 / (1 - rate)`, from an integer seed;
 * in the pool when the backend has the kernel, else in JS.
 */
export function dropoutMask(
  shape: readonly number[],
  rate: number,
  seed: number,
): tf.Tensor {
  const attrs: DropoutMaskAttrs = { shape: [...shape], rate, seed: seed >>> 0 };
  if (tf.getKernel(DROPOUT_MASK, tf.getBackend())) {
    return tf.engine().runKernel(
      DROPOUT_MASK,
      {},
      attrs as unknown as tf.NamedAttrMap,
    ) as tf.Tensor;
  }
  return tf.tensor(
    dropoutMaskValues(tf.util.sizeFromShape(attrs.shape), rate, attrs.seed),
    attrs.shape,
  );
}
