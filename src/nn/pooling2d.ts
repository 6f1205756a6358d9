/**
 * What Keras' 2-D pooling layers share: `pool_size`, `strides` (default:
 * the pool size), `padding` (TensorFlow's `same`: the odd cell of padding
 * at the bottom and right, padded cells left out of the window), their
 * output sizes, config and `model.json` reader.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import { type LayerConfig, padding, pair } from "./config_values.ts";
import { imageShape, pairOption, windowOutput } from "./conv_shape.ts";
import type { ApplyContext, Layer, LayerPlan, NamedWeight } from "./layer.ts";

/** Options of the 2-D pooling layers. */
export interface Pooling2DOptions {
  /** Default 2. */
  poolSize?: number | [number, number];
  /** Default: the pool size. */
  strides?: number | [number, number];
  padding?: "same" | "valid";
  name?: string;
}

/** A 2-D pooling layer: a window op without weights. */
export abstract class Pooling2D implements Layer {
  abstract readonly className: string;
  name: string;
  trainable = true;
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  readonly padding: "same" | "valid";
  readonly weights: NamedWeight[] = [];

  /** Describes the layer. */
  constructor(options: Pooling2DOptions = {}) {
    this.poolSize = pairOption(options.poolSize ?? 2, "pool size");
    this.strides = options.strides == null
      ? this.poolSize
      : pairOption(options.strides, "pool strides");
    this.padding = options.padding ?? "valid";
    this.name = options.name ?? "";
  }

  /** The pooling op on a batch. */
  protected abstract pool(x: tf.Tensor4D): tf.Tensor;

  /** The output shape (Keras' `conv_output_length`); no weights. */
  plan(inputShape: readonly number[]): LayerPlan {
    const what = `${this.name}: ${this.className}`;
    const [h, w, c] = imageShape(inputShape, what);
    const [oh, ow] = windowOutput([h, w], {
      size: this.poolSize,
      strides: this.strides,
      padding: this.padding,
    }, what);
    return { output: [oh, ow, c], weights: [] };
  }

  /** Returns the output shape; there are no weights. */
  build(inputShape: readonly number[]): number[] {
    return this.plan(inputShape).output;
  }

  /** Pools. */
  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    return this.pool(x as tf.Tensor4D);
  }

  /** Keras config. */
  config(): Record<string, unknown> {
    return {
      name: this.name,
      trainable: this.trainable,
      dtype: "float32",
      pool_size: this.poolSize,
      padding: this.padding,
      strides: this.strides,
      data_format: "channels_last",
    };
  }
}

/** Reads a pooling layer's options from its `model.json` config. */
export function poolingOptions(
  { name, config: c, where }: LayerConfig,
): Pooling2DOptions {
  const poolSize = pair(c.pool_size ?? 2, `${where} pool_size`);
  return {
    name,
    poolSize,
    strides: c.strides == null ? poolSize : pair(c.strides, `${where} strides`),
    padding: padding(c.padding, `${where} padding`),
  };
}
