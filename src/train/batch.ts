/**
 * Labelled uint8 image sets and their conversion to tensors, one batch at a
 * time (the whole CIFAR-10 training set as float32 would take 600 MB).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

/**
 * Images with labels: `count` images of `height x width x channels` bytes in
 * HWC order, and `count` labels. `ImageSet` from src/data has this shape.
 */
export interface LabeledImages {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
}

// A table gives exactly Keras' `astype('float32') / 255.0` for every byte.
const TO_UNIT: Float32Array = (() => {
  const t = new Float32Array(256);
  for (let v = 0; v < 256; v++) t[v] = v / 255;
  return t;
})();

/**
 * Throws a clear error unless `data` holds `count` images of `shape` and
 * `count` labels below `numClasses`.
 */
export function checkImages(
  data: LabeledImages,
  shape: readonly number[],
  numClasses: number,
  what: string,
): void {
  const size = shape.reduce((a, b) => a * b, 1);
  if (!Number.isInteger(data.count) || data.count < 1) {
    throw new Error(
      `${what} is empty (count ${data.count}); pass at least one image`,
    );
  }
  if (data.images.length !== data.count * size) {
    throw new Error(
      `${what} holds ${data.images.length} pixel bytes, but ${data.count} ` +
        `images of [${shape}] need ${data.count * size}; check count and ` +
        `the model's input shape`,
    );
  }
  if (data.labels.length !== data.count) {
    throw new Error(
      `${what} has ${data.labels.length} labels for ${data.count} images`,
    );
  }
  const bad = data.labels.findIndex((l) => l >= numClasses);
  if (bad >= 0) {
    throw new Error(
      `${what}: label ${data.labels[bad]} at index ${bad} is not below the ` +
        `model's ${numClasses} classes`,
    );
  }
}

/** A view of images `start` to `end` (exclusive). */
export function sliceImages(
  data: LabeledImages,
  start: number,
  end: number,
): LabeledImages {
  const size = data.images.length / data.count;
  return {
    images: data.images.subarray(start * size, end * size),
    labels: data.labels.subarray(start, end),
    count: end - start,
  };
}

/** One batch as tensors. */
export interface BatchTensors {
  /** `[n, h, w, c]` float32 in [0, 1]. */
  x: tf.Tensor4D;
  /** `[n, classes]` one-hot float32. */
  y: tf.Tensor2D;
  /** `[n]` int32 labels. */
  labels: tf.Tensor1D;
}

/** Gathers the images at `indices` into tensors. */
export function batchTensors(
  data: LabeledImages,
  indices: ArrayLike<number>,
  shape: readonly [number, number, number],
  numClasses: number,
): BatchTensors {
  const n = indices.length;
  const size = shape[0] * shape[1] * shape[2];
  const x = new Float32Array(n * size);
  const y = new Float32Array(n * numClasses);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const j = indices[i]!;
    const src = data.images.subarray(j * size, (j + 1) * size);
    for (let k = 0; k < size; k++) x[i * size + k] = TO_UNIT[src[k]!]!;
    const label = data.labels[j]!;
    labels[i] = label;
    y[i * numClasses + label] = 1;
  }
  return {
    x: tf.tensor4d(x, [n, ...shape]),
    y: tf.tensor2d(y, [n, numClasses]),
    labels: tf.tensor1d(labels, "int32"),
  };
}
