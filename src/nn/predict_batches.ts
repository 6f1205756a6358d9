/**
 * Running a model over many images a batch at a time, so that activations
 * never exceed one batch's worth whatever the number of images.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

/**
 * `run` applied to `x` in slices of `batchSize` along the batch axis, the
 * results joined; `outputShape` (without the batch axis) shapes the empty
 * result of an empty `x`.
 */
export function predictInBatches(
  run: (batch: tf.Tensor) => tf.Tensor,
  x: tf.Tensor,
  batchSize: number,
  outputShape: readonly number[],
): tf.Tensor {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(
      `batchSize must be a whole number >= 1, got ${batchSize}`,
    );
  }
  const n = x.shape[0] ?? 0;
  // One batch: no slice, which would copy it.
  if (n > 0 && n <= batchSize) return tf.tidy(() => run(x));
  const parts: tf.Tensor[] = [];
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    parts.push(tf.tidy(() => {
      const begin = x.shape.map((_, i) => (i === 0 ? start : 0));
      const sizes = x.shape.map((d, i) => (i === 0 ? size : d));
      return run(tf.slice(x, begin, sizes));
    }));
  }
  if (parts.length === 0) return tf.zeros([0, ...outputShape]);
  const out = parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
  if (parts.length > 1) tf.dispose(parts);
  return out;
}
