/**
 * The one image type of simdnet: labelled uint8 images in HWC order that
 * carry their own shape. The loader returns it, `fit`, `evaluate` and the
 * report take it, and `toFloatBatch` (batch.ts) turns any part of it into
 * float32 one batch at a time. Pixels stay bytes because the whole CIFAR-10
 * training set takes 150 MB as uint8 and 600 MB as float32.
 *
 * @module
 */

import { DataError } from "./errors.ts";

/** `[height, width, channels]` of every image of a set. */
export type ImageShape = readonly [number, number, number];

/** The shape of a CIFAR-10 image: 32 x 32 pixels, RGB. */
export const CIFAR10_SHAPE: ImageShape = [32, 32, 3];

/**
 * Labelled images: `count` images of `shape` bytes each, one after another
 * in HWC order (row, column, channel), and `count` labels.
 *
 * @example
 * ```ts
 * import type { ImageSet } from "./image_set.ts";
 *
 * // Two 24x20 grey images, labels 0 and 1.
 * const set: ImageSet = {
 *   images: new Uint8Array(2 * 24 * 20),
 *   labels: Uint8Array.of(0, 1),
 *   count: 2,
 *   shape: [24, 20, 1],
 * };
 * ```
 */
export interface ImageSet {
  /** `count x height x width x channels` bytes, HWC per image. */
  images: Uint8Array;
  /** `count` class indices. */
  labels: Uint8Array;
  /** Number of images. */
  count: number;
  /** `[height, width, channels]` of each image. */
  shape: ImageShape;
}

/** Bytes of one image of `shape`. */
export function imageBytes(shape: ImageShape): number {
  return shape[0] * shape[1] * shape[2];
}

/**
 * Throws a {@linkcode DataError} ("usage") naming `what` unless `data` is
 * consistent: a shape of three whole sizes >= 1, a whole `count >= 0`, and
 * at least `count` labels and `count` images' bytes.
 */
export function checkImageSet(data: ImageSet, what: string): void {
  const shape = data.shape as readonly unknown[] | undefined;
  if (
    !Array.isArray(shape) || shape.length !== 3 ||
    !shape.every((d) => Number.isInteger(d) && (d as number) >= 1)
  ) {
    throw new DataError(
      "usage",
      `${what}: the image set has no valid shape (got ${
        JSON.stringify(shape)
      })`,
      "give it shape [height, width, channels], e.g. [32, 32, 3]",
    );
  }
  const size = imageBytes(data.shape);
  if (
    !Number.isInteger(data.count) || data.count < 0 ||
    data.labels.length < data.count ||
    data.images.length < data.count * size
  ) {
    throw new DataError(
      "usage",
      `${what}: the image set is inconsistent (count ${data.count}, ` +
        `${data.labels.length} labels, ${data.images.length} pixel bytes)`,
      `images must hold count x ${size} bytes ([${data.shape}]) and labels ` +
        `count bytes`,
    );
  }
}
