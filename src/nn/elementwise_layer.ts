/**
 * The shared part of layers that act on each value on its own and keep
 * the input's shape (Activation, ReLU, LeakyReLU, Rescaling): no weights,
 * any input shape.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import type { ApplyContext, Layer, LayerPlan, NamedWeight } from "./layer.ts";

/** A weightless layer whose output has its input's shape. */
export abstract class ElementwiseLayer implements Layer {
  abstract readonly className: string;
  name: string;
  trainable = true;
  readonly weights: readonly NamedWeight[] = [];

  /** Names the layer; an empty name is assigned by the model. */
  constructor(name = "") {
    this.name = name;
  }

  /** The input's shape; no weights. */
  plan(inputShape: readonly number[]): LayerPlan {
    return { output: [...inputShape], weights: [] };
  }

  /** The input's shape. */
  build(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }

  /** Runs the layer on a batch. */
  abstract apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor;

  /** The layer's own config keys, after name, trainable and dtype. */
  protected abstract settings(): Record<string, unknown>;

  /** Keras config. */
  config(): Record<string, unknown> {
    return {
      name: this.name,
      trainable: this.trainable,
      dtype: "float32",
      ...this.settings(),
    };
  }
}
