/**
 * Keras `AveragePooling2D`: any pool size, strides (default: the pool
 * size) and padding. With `same` padding a border window averages only its
 * cells inside the input, as in Keras/TensorFlow (tfjs' `AvgPool` kernels
 * do the same; the gradient in `runtime/gradients_conv.ts` matches it).
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

/** Options of {@linkcode AveragePooling2D}. */
export type AveragePooling2DOptions = Pooling2DOptions;

/** 2-D average pooling. */
export class AveragePooling2D extends Pooling2D {
  readonly className = "AveragePooling2D";

  /** The `AvgPool` kernel. */
  protected pool(x: tf.Tensor4D): tf.Tensor {
    return tf.avgPool(x, this.poolSize, this.strides, this.padding);
  }
}

/** Reads an `AveragePooling2D` config from `model.json`. */
export function averagePooling2dFromConfig(lc: LayerConfig): AveragePooling2D {
  return new AveragePooling2D(poolingOptions(lc));
}
