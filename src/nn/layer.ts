/**
 * The layer interface shared by simdnet's Keras-style layers.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";

/** How a forward pass runs. */
export interface ApplyContext {
  /** Training mode: dropout is active. */
  training: boolean;
  /**
   * Source of dropout seeds in training mode, called once per dropout layer
   * per step, so that every random mask derives from the trainer's generator.
   */
  nextSeed?: () => number;
  /** Return logits instead of applying a final `softmax` activation. */
  logits?: boolean;
}

/** A weight as Keras names it, e.g. `conv2d/kernel`. */
export interface NamedWeight {
  name: string;
  variable: tf.Variable;
}

/** Values produced by an initialiser for a weight of a given shape. */
export type Initializer = (shape: readonly number[]) => Float32Array;

/** A layer of a {@linkcode Sequential} model. */
export interface Layer {
  /** Keras layer name, e.g. `conv2d_1`; assigned by the model when empty. */
  name: string;
  /** Keras class name, e.g. `Conv2D`. */
  readonly className: string;
  /**
   * Keras' `trainable`: when false the optimizer leaves the layer's weights
   * as they are (a frozen layer). Saved in the config, so tfjs-layers and
   * Keras read it back.
   */
  trainable: boolean;
  /**
   * Creates the weights for inputs of `inputShape` (without the batch axis)
   * and returns the output shape. Called once, by the model.
   */
  build(inputShape: readonly number[], init: Initializer): number[];
  /** Runs the layer on a batch. */
  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor;
  /** The layer's weights, in Keras order (kernel, then bias). */
  readonly weights: readonly NamedWeight[];
  /** The layer's Keras config (snake_case keys), as saved in `model.json`. */
  config(): Record<string, unknown>;
}

/** Keras' `(None, ...)` rendering of a shape with a batch axis. */
export function formatShape(shape: readonly number[]): string {
  return `(None, ${shape.join(", ")})`;
}

/** Counts the scalars in a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
