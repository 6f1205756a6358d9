/**
 * Keras `Flatten` (channels_last: a row-major reshape to `[batch, -1]`).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import {
  type ApplyContext,
  type Layer,
  type LayerPlan,
  type NamedWeight,
  sizeOf,
} from "./layer.ts";

/** Flattens every axis but the batch axis. */
export class Flatten implements Layer {
  readonly className = "Flatten";
  name: string;
  trainable = true;
  readonly weights: NamedWeight[] = [];

  /** Describes the layer. */
  constructor(options: { name?: string } = {}) {
    this.name = options.name ?? "";
  }

  /** `[h, w, c]` becomes `[h * w * c]`. */
  build(inputShape: readonly number[]): number[] {
    return this.plan(inputShape).output;
  }

  /** The output shape; no weights. */
  plan(inputShape: readonly number[]): LayerPlan {
    return { output: [sizeOf(inputShape)], weights: [] };
  }

  /** Reshapes. */
  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    return tf.reshape(x, [x.shape[0] ?? -1, -1]);
  }

  /** Keras config. */
  config(): Record<string, unknown> {
    return {
      name: this.name,
      trainable: this.trainable,
      dtype: "float32",
      data_format: "channels_last",
    };
  }
}
