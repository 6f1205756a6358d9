/**
 * The types of a `Classifier`'s options, inputs and results.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import type { ModelLimits } from "../nn/model_io.ts";
import type { InitOptions } from "../runtime/init.ts";
import type { TtaSetting } from "../train/tta.ts";
import type { Pixels } from "../image/pixels.ts";

/** One class of a result, best first. */
export interface Prediction {
  /** Class index (the model's output unit). */
  index: number;
  /** The model's name of the class, e.g. `cat`, as saved with the model. */
  label: string;
  /**
   * Japanese name, e.g. `猫`: only when the labels are CIFAR-10's or
   * `labelsJa` was given; other label sets have no translation.
   */
  labelJa?: string;
  /** Softmax probability in [0, 1]. */
  probability: number;
}

/**
 * An image to classify: PNG or JPEG file bytes (any size and colour mode),
 * raw 8-bit pixels (grey, grey+alpha, RGB or RGBA, any size), or a tensor
 * `[height, width, channels]` or `[1, height, width, channels]` (float32 in
 * [0, 1], or int32 0..255; resized with `tf.image.resizeBilinear`).
 */
export type ClassifierInput = Uint8Array | ArrayBuffer | Pixels | tf.Tensor;

/** Options of `Classifier.load` and `Classifier.fromBytes`. */
export interface ClassifierOptions extends InitOptions {
  /**
   * Class names by output index; default the names saved with the model
   * (`userDefinedMetadata`), else CIFAR-10's for 10-class models, else
   * `class 0`, `class 1`, ...
   */
  labels?: readonly string[];
  /** Japanese class names; default CIFAR-10's when the labels are CIFAR-10's, else none. */
  labelsJa?: readonly string[];
  /** Images per forward pass; default 256. */
  batchSize?: number;
  /** Largest decoded image in pixels; default 40 million. */
  maxPixels?: number;
  /** Bounds the model files must stay within (sizes, shards, parameters). */
  limits?: ModelLimits;
  /**
   * Test-time augmentation: `true` averages the probabilities of each image
   * and its mirror; `{ flip, translate }` adds one-pixel translations (see
   * `train/tta.ts`). Each view is one more forward pass. Default none.
   */
  tta?: TtaSetting;
}

/** Options of `Classifier.classify`. */
export interface ClassifyOptions {
  /** How many classes to return, best first; default 3. */
  topK?: number;
}
