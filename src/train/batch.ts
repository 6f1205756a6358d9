/**
 * A model's view of an {@linkcode ImageSet}: checking that a set fits the
 * model, and turning a batch of it into tensors with the data layer's one
 * converter (`toFloatBatch`, `oneHotBatch`).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { oneHotBatch, toFloatBatch } from "../data/batch.ts";
import { checkImageSet, type ImageSet } from "../data/image_set.ts";

/**
 * Throws a clear error unless `data` holds at least one image of the
 * model's input `shape`, exactly `count` images and labels, and only labels
 * below `numClasses`.
 */
export function checkImages(
  data: ImageSet,
  shape: readonly number[],
  numClasses: number,
  what: string,
): void {
  checkImageSet(data, what);
  if (data.count < 1) {
    throw new Error(
      `${what} is empty (count ${data.count}); pass at least one image`,
    );
  }
  if (data.shape.join() !== shape.join()) {
    throw new Error(
      `${what} holds images of [${data.shape}], but the model takes ` +
        `[${shape}]; check the data's shape and the model's input shape`,
    );
  }
  const size = shape.reduce((a, b) => a * b, 1);
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

/** One batch as tensors. */
export interface BatchTensors {
  /** `[n, h, w, c]` float32 in [0, 1]. */
  x: tf.Tensor4D;
  /** `[n, classes]` one-hot float32. */
  y: tf.Tensor2D;
  /** `[n]` int32 labels. */
  labels: tf.Tensor1D;
}

/**
 * Gathers the images at `indices` into tensors. The arrays are new for
 * every batch: tfjs' `cpu` backend keeps the array a tensor is made from.
 */
export function batchTensors(
  data: ImageSet,
  indices: ArrayLike<number>,
  numClasses: number,
): BatchTensors {
  const n = indices.length;
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = data.labels[indices[i]!]!;
  return {
    x: tf.tensor4d(toFloatBatch(data, indices), [n, ...data.shape]),
    y: tf.tensor2d(oneHotBatch(data.labels, indices, numClasses), [
      n,
      numClasses,
    ]),
    labels: tf.tensor1d(labels, "int32"),
  };
}
