/**
 * Keras `MaxPooling2D`: any pool size, strides (default: the pool size)
 * and padding.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { LayerConfig } from "./config_values.ts";
import {
  Pooling2D,
  type Pooling2DOptions,
  poolingOptions,
} from "./pooling2d.ts";

/** Options of {@linkcode MaxPooling2D}. */
export type MaxPooling2DOptions = Pooling2DOptions;

/**
 * 2-D max pooling. With `same` padding a border window takes the maximum
 * of its cells inside the input.
 */
export class MaxPooling2D extends Pooling2D {
  readonly className = "MaxPooling2D";

  /** The `MaxPool` kernel. */
  protected pool(x: tf.Tensor4D): tf.Tensor {
    return tf.maxPool(x, this.poolSize, this.strides, this.padding);
  }
}

/** Reads a `MaxPooling2D` config from `model.json`. */
export function maxPooling2dFromConfig(lc: LayerConfig): MaxPooling2D {
  return new MaxPooling2D(poolingOptions(lc));
}
