/**
 * Keras `MaxPooling2D` (strides default to the pool size, padding `valid`).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { ApplyContext, Layer, LayerPlan, NamedWeight } from "./layer.ts";

/** Options of {@linkcode MaxPooling2D}. */
export interface MaxPooling2DOptions {
  poolSize?: number | [number, number];
  padding?: "same" | "valid";
  name?: string;
}

/** 2-D max pooling with stride equal to the pool size. */
export class MaxPooling2D implements Layer {
  readonly className = "MaxPooling2D";
  name: string;
  trainable = true;
  readonly poolSize: [number, number];
  readonly padding: "same" | "valid";
  readonly weights: NamedWeight[] = [];

  /** Describes the layer. */
  constructor(options: MaxPooling2DOptions = {}) {
    const p = options.poolSize ?? 2;
    this.poolSize = typeof p === "number" ? [p, p] : p;
    if (!this.poolSize.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new RangeError(
        `MaxPooling2D needs a whole pool size >= 1, got ${this.poolSize}`,
      );
    }
    this.padding = options.padding ?? "valid";
    this.name = options.name ?? "";
  }

  /** Output shape: Keras' `floor((size - pool) / pool) + 1` for `valid`. */
  build(inputShape: readonly number[]): number[] {
    return this.plan(inputShape).output;
  }

  /** The output shape; no weights. */
  plan(inputShape: readonly number[]): LayerPlan {
    if (inputShape.length !== 3) {
      throw new Error(
        `${this.name}: MaxPooling2D needs inputs of shape [height, width, ` +
          `channels], got [${inputShape}]`,
      );
    }
    const [h = 0, w = 0, c = 0] = inputShape;
    const [ph, pw] = this.poolSize;
    if (this.padding === "same") {
      return { output: [Math.ceil(h / ph), Math.ceil(w / pw), c], weights: [] };
    }
    if (h < ph || w < pw) {
      throw new Error(
        `${this.name}: a ${ph}x${pw} pool cannot run on a ${h}x${w} input`,
      );
    }
    const output = [
      Math.floor((h - ph) / ph) + 1,
      Math.floor((w - pw) / pw) + 1,
      c,
    ];
    return { output, weights: [] };
  }

  /** Pools. */
  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    return tf.maxPool(
      x as tf.Tensor4D,
      this.poolSize,
      this.poolSize,
      this.padding,
    );
  }

  /** Keras config. */
  config(): Record<string, unknown> {
    return {
      name: this.name,
      trainable: this.trainable,
      dtype: "float32",
      pool_size: this.poolSize,
      padding: this.padding,
      strides: this.poolSize,
      data_format: "channels_last",
    };
  }
}
