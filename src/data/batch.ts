/**
 * Per-batch conversion: uint8 pixels to float32 in [0, 1] and labels to
 * one-hot rows. Done per batch because the whole training set as float32
 * would take 600 MB instead of 150 MB.
 *
 * @module
 */

import { DataError } from "./errors.ts";
import { IMAGE_BYTES, type ImageSet, NUM_CLASSES } from "./format.ts";
import { createRng, type Rng } from "../util/random.ts";

// Multiplying by a reciprocal differs from x / 255 in the last bit for some
// values; a table gives exactly Keras' `astype('float32') / 255.0`.
const TO_UNIT: Float32Array = (() => {
  const table = new Float32Array(256);
  for (let v = 0; v < 256; v++) table[v] = v / 255;
  return table;
})();

function outputBuffer(
  out: Float32Array | undefined,
  length: number,
  what: string,
): Float32Array {
  if (out === undefined) return new Float32Array(length);
  if (out.length < length) {
    throw new DataError(
      "usage",
      `${what}: the output buffer holds ${out.length} floats but ${length} are needed`,
      "allocate it for the largest batch, or omit it to get a new one",
    );
  }
  return out.length === length ? out : out.subarray(0, length);
}

function checkIndex(index: number, count: number, what: string): void {
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new DataError(
      "usage",
      `${what}: index ${index} is outside 0..${count - 1}`,
      "pass indices of images that exist",
    );
  }
}

/**
 * Converts the images at `indices` (HWC uint8, 3072 bytes each) into one
 * float32 array of `indices.length x 32 x 32 x 3` values in [0, 1]. Pass
 * `out` to reuse a buffer across batches; when it is longer than needed, a
 * view of its start is returned.
 */
export function toFloatBatch(
  images: Uint8Array,
  indices: ArrayLike<number>,
  out?: Float32Array,
): Float32Array {
  const count = Math.floor(images.length / IMAGE_BYTES);
  const result = outputBuffer(
    out,
    indices.length * IMAGE_BYTES,
    "toFloatBatch",
  );
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i]!;
    checkIndex(index, count, "toFloatBatch");
    const src = index * IMAGE_BYTES;
    const dst = i * IMAGE_BYTES;
    for (let k = 0; k < IMAGE_BYTES; k++) {
      result[dst + k] = TO_UNIT[images[src + k]!]!;
    }
  }
  return result;
}

/**
 * One-hot rows for `labels` (Keras' `to_categorical`): `labels.length x
 * numClasses` floats. Pass `out` to reuse a buffer; it is cleared first.
 */
export function oneHot(
  labels: ArrayLike<number>,
  numClasses: number = NUM_CLASSES,
  out?: Float32Array,
): Float32Array {
  const result = outputBuffer(out, labels.length * numClasses, "oneHot");
  result.fill(0);
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
      throw new DataError(
        "label",
        `oneHot: label ${label} at position ${i} is outside 0..${
          numClasses - 1
        }`,
        "check the labels, or pass the right number of classes",
      );
    }
    result[i * numClasses + label] = 1;
  }
  return result;
}

/** One-hot rows for the labels at `indices`; like {@linkcode oneHot} without a gather. */
export function oneHotBatch(
  labels: Uint8Array,
  indices: ArrayLike<number>,
  numClasses: number = NUM_CLASSES,
  out?: Float32Array,
): Float32Array {
  const picked = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i]!;
    checkIndex(index, labels.length, "oneHotBatch");
    picked[i] = labels[index]!;
  }
  return oneHot(picked, numClasses, out);
}

/** Options for {@linkcode iterateBatches}. */
export interface BatchOptions {
  /** Images per batch; the last batch may be smaller. */
  batchSize: number;
  /** Visit images in a seeded random order. Default false. */
  shuffle?: boolean;
  /** Seed for the order. Default 0. */
  seed?: number;
  /** Draw the shuffle from this generator instead (e.g. the trainer's); `seed` is then unused. */
  rng?: Rng;
}

/** One batch from {@linkcode iterateBatches}. */
export interface Batch {
  /** `size x 32 x 32 x 3` floats in [0, 1]. Overwritten by the next batch. */
  x: Float32Array;
  /** `size x 10` one-hot rows. Overwritten by the next batch. */
  y: Float32Array;
  /** The images' indices in the set. */
  indices: Uint32Array;
  /** Images in this batch. */
  size: number;
}

/**
 * Yields float batches of `data`, reusing two buffers: copy `x` and `y` (or
 * hand them to a tensor constructor, which copies) before asking for the next.
 */
export function* iterateBatches(
  data: ImageSet,
  options: BatchOptions,
): Generator<Batch> {
  const { batchSize } = options;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new DataError(
      "usage",
      `batchSize must be a whole number >= 1, got ${batchSize}`,
      "pass e.g. batchSize 64",
    );
  }
  let order: Uint32Array;
  if (options.shuffle) {
    order = (options.rng ?? createRng(options.seed ?? 0)).permutation(
      data.count,
    );
  } else {
    order = new Uint32Array(data.count);
    for (let i = 0; i < data.count; i++) order[i] = i;
  }
  const size = Math.min(batchSize, data.count);
  const x = new Float32Array(size * IMAGE_BYTES);
  const y = new Float32Array(size * NUM_CLASSES);
  for (let start = 0; start < data.count; start += batchSize) {
    const indices = order.subarray(
      start,
      Math.min(start + batchSize, data.count),
    );
    yield {
      x: toFloatBatch(data.images, indices, x),
      y: oneHotBatch(data.labels, indices, NUM_CLASSES, y),
      indices,
      size: indices.length,
    };
  }
}
