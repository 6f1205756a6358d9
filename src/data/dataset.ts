/**
 * Subsets of an {@linkcode ImageSet}: the first n, a validation split, a
 * gather by indices. Views are used where possible so the 150 MB of training
 * pixels are not copied.
 *
 * @module
 */

import { DataError } from "./errors.ts";
import { checkImageSet, imageBytes, type ImageSet } from "./image_set.ts";
import { Rng } from "../util/random.ts";

/** Options for {@linkcode splitValidation}. */
export interface SplitOptions {
  /** Fraction held out for validation, in [0, 1). Keras semantics: the last part. */
  validationSplit: number;
  /** Shuffle with `seed` before splitting (the result is then a copy). Default false. */
  shuffle?: boolean;
  /** Seed for the shuffle. Default 0. */
  seed?: number;
  /** Draw the shuffle from this generator instead (e.g. the trainer's); `seed` is then unused. */
  rng?: Rng;
}

/** A training set and its held-out validation set. */
export interface ValidationSplit {
  /** The images to train on. */
  train: ImageSet;
  /** The held-out images (empty when `validationSplit` is 0). */
  validation: ImageSet;
}

/**
 * A view of images `start` (inclusive) to `end` (exclusive), of the same
 * shape; no copy.
 */
export function sliceSet(data: ImageSet, start: number, end: number): ImageSet {
  const size = imageBytes(data.shape);
  return {
    images: data.images.subarray(start * size, end * size),
    labels: data.labels.subarray(start, end),
    count: end - start,
    shape: data.shape,
  };
}

/**
 * The first `n` images (all when `n >= count`), as a view without copying.
 * For quick runs on a small part of the data.
 */
export function limit(data: ImageSet, n: number): ImageSet {
  checkImageSet(data, "limit");
  if (!Number.isInteger(n) || n < 0) {
    throw new DataError(
      "usage",
      `limit must be a whole number >= 0, got ${n}`,
      "pass e.g. limit 1000 for a quick run",
    );
  }
  return sliceSet(data, 0, Math.min(n, data.count));
}

/** A new image set holding copies of the images at `indices`, in that order. */
export function gather(data: ImageSet, indices: ArrayLike<number>): ImageSet {
  checkImageSet(data, "gather");
  const size = imageBytes(data.shape);
  const count = indices.length;
  const out: ImageSet = {
    images: new Uint8Array(count * size),
    labels: new Uint8Array(count),
    count,
    shape: data.shape,
  };
  for (let i = 0; i < count; i++) {
    const j = indices[i]!;
    if (!Number.isInteger(j) || j < 0 || j >= data.count) {
      throw new DataError(
        "usage",
        `gather: index ${j} at position ${i} is outside 0..${data.count - 1}`,
        "pass indices of images that exist",
      );
    }
    out.labels[i] = data.labels[j]!;
    out.images.set(data.images.subarray(j * size, (j + 1) * size), i * size);
  }
  return out;
}

/**
 * Throws a {@linkcode DataError} ("usage") unless `validationSplit` is a
 * fraction in [0, 1).
 */
export function checkValidationSplit(validationSplit: number): void {
  if (!(validationSplit >= 0 && validationSplit < 1)) {
    throw new DataError(
      "usage",
      `validationSplit must be in [0, 1), got ${validationSplit}`,
      "pass a fraction such as 0.1 to hold out the last 10% for validation",
    );
  }
}

/**
 * Splits off a validation set. Without `shuffle` this is Keras'
 * `validation_split`: training keeps the first `floor(count * (1 -
 * validationSplit))` images and validation the rest, both as views.
 * With `shuffle`, the records are first permuted with a seeded generator and
 * both parts are copies, so the source may be dropped afterwards. `fit`,
 * the train and evaluate commands all split with this function.
 *
 * @example
 * ```ts
 * import { splitValidation } from "./dataset.ts";
 *
 * const data = {
 *   images: new Uint8Array(10 * 4),
 *   labels: new Uint8Array(10),
 *   count: 10,
 *   shape: [2, 2, 1] as const,
 * };
 * const { train, validation } = splitValidation(data, { validationSplit: 0.2 });
 * console.log(train.count, validation.count); // 8 2: images 8 and 9 validate
 * ```
 */
export function splitValidation(
  data: ImageSet,
  options: SplitOptions,
): ValidationSplit {
  checkImageSet(data, "splitValidation");
  const { validationSplit } = options;
  checkValidationSplit(validationSplit);
  const splitAt = Math.floor(data.count * (1 - validationSplit));
  if (validationSplit > 0 && (splitAt === 0 || splitAt === data.count)) {
    throw new DataError(
      "usage",
      `${data.count} images cannot be split with validationSplit ${validationSplit}: one part would be empty`,
      "use more images (a larger limit) or another validationSplit",
    );
  }
  if (!options.shuffle) {
    return {
      train: sliceSet(data, 0, splitAt),
      validation: sliceSet(data, splitAt, data.count),
    };
  }
  const order = (options.rng ?? new Rng(options.seed ?? 0)).permutation(
    data.count,
  );
  return {
    train: gather(data, order.subarray(0, splitAt)),
    validation: gather(data, order.subarray(splitAt)),
  };
}

/** Number of images per label (index = label). */
export function countPerClass(
  labels: ArrayLike<number>,
  numClasses = 10,
): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (label < numClasses) counts[label]! += 1;
  }
  return counts;
}
