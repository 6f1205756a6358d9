/**
 * Per-batch conversion: uint8 pixels to float32 in [0, 1] and labels to
 * one-hot rows. Done per batch because the whole training set as float32
 * would take 600 MB instead of 150 MB. This is the one converter: the
 * trainer, evaluation and the report all build their inputs with
 * {@linkcode toFloatBatch}.
 *
 * @module
 */

import { DataError } from "./errors.ts";
import { NUM_CLASSES } from "./format.ts";
import { checkImageSet, imageBytes, type ImageSet } from "./image_set.ts";
import { Rng } from "../util/random.ts";

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
 * Converts the images of `data` at `indices` into one float32 array of
 * `indices.length x height x width x channels` values (NHWC, the layout of
 * `tf.tensor4d(x, [n, ...data.shape])`), each `byte / 255` as float32,
 * exactly Keras' `astype('float32') / 255.0`. Any image shape works. Pass
 * `out` to reuse a buffer across batches; when it is longer than needed, a
 * view of its start is returned.
 *
 * @example
 * ```ts
 * import { toFloatBatch } from "./batch.ts";
 *
 * const data = {
 *   images: Uint8Array.of(0, 51, 255, 102), // two 1x2 grey images
 *   labels: Uint8Array.of(0, 1),
 *   count: 2,
 *   shape: [1, 2, 1] as const,
 * };
 * console.log(toFloatBatch(data, [1, 0])); // [1, 0.4, 0, 0.2] as float32
 * ```
 */
export function toFloatBatch(
  data: ImageSet,
  indices: ArrayLike<number>,
  out?: Float32Array,
): Float32Array {
  checkImageSet(data, "toFloatBatch");
  const size = imageBytes(data.shape);
  const images = data.images;
  const result = outputBuffer(out, indices.length * size, "toFloatBatch");
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i]!;
    checkIndex(index, data.count, "toFloatBatch");
    const src = index * size;
    const dst = i * size;
    for (let k = 0; k < size; k++) {
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
  /** Length of the one-hot rows. Default 10 (CIFAR-10). */
  numClasses?: number;
  /** Visit images in a seeded random order. Default false. */
  shuffle?: boolean;
  /** Seed for the order. Default 0. */
  seed?: number;
  /** Draw the shuffle from this generator instead (e.g. the trainer's); `seed` is then unused. */
  rng?: Rng;
}

/** One batch from {@linkcode iterateBatches}. */
export interface Batch {
  /** `size x height x width x channels` floats in [0, 1]. Overwritten by the next batch. */
  x: Float32Array;
  /** `size x numClasses` one-hot rows. Overwritten by the next batch. */
  y: Float32Array;
  /** The images' indices in the set. */
  indices: Uint32Array;
  /** Images in this batch. */
  size: number;
}

/**
 * Yields float batches of `data` (any image shape, see
 * {@linkcode toFloatBatch}), reusing two buffers: use or copy `x` and `y`
 * before asking for the next. A tensor made from them may keep the array
 * itself (tfjs' `cpu` backend does), so make one that outlives its batch
 * from `x.slice()`.
 *
 * @example
 * ```ts
 * import { iterateBatches } from "./batch.ts";
 *
 * const data = {
 *   images: new Uint8Array(10 * 24 * 20).fill(255),
 *   labels: new Uint8Array(10),
 *   count: 10,
 *   shape: [24, 20, 1] as const,
 * };
 * for (const b of iterateBatches(data, { batchSize: 4, shuffle: true, seed: 1 })) {
 *   console.log(b.size, b.x.length); // 4 1920, 4 1920, then 2 960
 * }
 * ```
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
  checkImageSet(data, "iterateBatches");
  const classes = options.numClasses ?? NUM_CLASSES;
  let order: Uint32Array;
  if (options.shuffle) {
    order = (options.rng ?? new Rng(options.seed ?? 0)).permutation(
      data.count,
    );
  } else {
    order = new Uint32Array(data.count);
    for (let i = 0; i < data.count; i++) order[i] = i;
  }
  const size = Math.min(batchSize, data.count);
  const x = new Float32Array(size * imageBytes(data.shape));
  const y = new Float32Array(size * classes);
  for (let start = 0; start < data.count; start += batchSize) {
    const indices = order.subarray(
      start,
      Math.min(start + batchSize, data.count),
    );
    yield {
      x: toFloatBatch(data, indices, x),
      y: oneHotBatch(data.labels, indices, classes, y),
      indices,
      size: indices.length,
    };
  }
}
