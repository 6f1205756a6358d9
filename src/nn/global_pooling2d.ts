/**
 * Keras `GlobalAveragePooling2D` and `GlobalMaxPooling2D`: the mean or the
 * maximum of each channel over height and width, `[h, w, c]` to `[c]`
 * (or `[1, 1, c]` with `keepdims`, Keras 2.6+).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import {
  describe,
  type LayerConfig,
  ModelFormatError,
} from "./config_values.ts";
import { imageShape } from "./conv_shape.ts";
import type { ApplyContext, Layer, LayerPlan, NamedWeight } from "./layer.ts";

/** Options of the global pooling layers. */
export interface GlobalPooling2DOptions {
  /** Keep the spatial axes as size 1; default false. */
  keepdims?: boolean;
  name?: string;
}

/** A reduction over height and width. */
abstract class GlobalPooling2D implements Layer {
  abstract readonly className: string;
  name: string;
  trainable = true;
  readonly keepdims: boolean;
  readonly weights: NamedWeight[] = [];

  /** Describes the layer. */
  constructor(options: GlobalPooling2DOptions = {}) {
    this.keepdims = options.keepdims ?? false;
    this.name = options.name ?? "";
  }

  /** The reduction over axes 1 and 2 of a batch. */
  protected abstract reduce(x: tf.Tensor): tf.Tensor;

  /** `[c]`, or `[1, 1, c]` with `keepdims`; no weights. */
  plan(inputShape: readonly number[]): LayerPlan {
    const [, , c] = imageShape(inputShape, `${this.name}: ${this.className}`);
    return { output: this.keepdims ? [1, 1, c] : [c], weights: [] };
  }

  /** Returns the output shape; there are no weights. */
  build(inputShape: readonly number[]): number[] {
    return this.plan(inputShape).output;
  }

  /** Reduces. */
  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    return this.reduce(x);
  }

  /**
   * Keras config. `keepdims` is written only when true: tfjs-layers 4.22
   * neither reads nor writes it, and Keras' default is false.
   */
  config(): Record<string, unknown> {
    const config: Record<string, unknown> = {
      name: this.name,
      trainable: this.trainable,
      dtype: "float32",
      data_format: "channels_last",
    };
    if (this.keepdims) config.keepdims = true;
    return config;
  }
}

/** The mean of each channel. */
export class GlobalAveragePooling2D extends GlobalPooling2D {
  readonly className = "GlobalAveragePooling2D";

  /** `Mean` over height and width. */
  protected reduce(x: tf.Tensor): tf.Tensor {
    return tf.mean(x, [1, 2], this.keepdims);
  }
}

/** The maximum of each channel. */
export class GlobalMaxPooling2D extends GlobalPooling2D {
  readonly className = "GlobalMaxPooling2D";

  /** `Max` over height and width. */
  protected reduce(x: tf.Tensor): tf.Tensor {
    return tf.max(x, [1, 2], this.keepdims);
  }
}

function globalOptions(
  { name, config: c, where }: LayerConfig,
): GlobalPooling2DOptions {
  const keepdims = c.keepdims ?? false;
  if (typeof keepdims !== "boolean") {
    throw new ModelFormatError(
      `${where} keepdims must be true or false, got ${describe(keepdims)}`,
    );
  }
  return { name, keepdims };
}

/** Reads a `GlobalAveragePooling2D` config from `model.json`. */
export function globalAveragePooling2dFromConfig(
  lc: LayerConfig,
): GlobalAveragePooling2D {
  return new GlobalAveragePooling2D(globalOptions(lc));
}

/** Reads a `GlobalMaxPooling2D` config from `model.json`. */
export function globalMaxPooling2dFromConfig(
  lc: LayerConfig,
): GlobalMaxPooling2D {
  return new GlobalMaxPooling2D(globalOptions(lc));
}
