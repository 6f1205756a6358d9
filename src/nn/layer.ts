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
  /**
   * False for a layer's state that no gradient updates, such as
   * BatchNormalization's moving mean and variance (Keras'
   * `non_trainable_weights`); absent means trainable.
   */
  trainable?: boolean;
}

/** A weight a layer will create, before any tensor exists. */
export interface PlannedWeight {
  name: string;
  shape: number[];
  /** False for non-trainable state; see {@linkcode NamedWeight.trainable}. */
  trainable?: boolean;
}

/** What a layer makes of an input shape, computed without creating tensors. */
export interface LayerPlan {
  /** Output shape without the batch axis. */
  output: number[];
  /** The weights `build` will create, in Keras order. */
  weights: PlannedWeight[];
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
  /**
   * The output shape and weights for inputs of `inputShape`, without
   * creating any tensor, so that a model file can be checked before
   * anything is allocated. Throws an `Error` naming the layer when it cannot
   * run on that input; `build` returns the same output shape.
   */
  plan(inputShape: readonly number[]): LayerPlan;
  /** Runs the layer on a batch. */
  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor;
  /** The layer's weights, in Keras order (kernel, then bias). */
  readonly weights: readonly NamedWeight[];
  /** The layer's Keras config (snake_case keys), as saved in `model.json`. */
  config(): Record<string, unknown>;
  /**
   * The layer's share of the loss from its `kernel_regularizer` and
   * `bias_regularizer` (Keras adds it to the training loss), or null
   * without regularizers. Called inside the gradient tape.
   */
  regularizationLoss?(): tf.Scalar | null;
}

/**
 * A layer of several inputs (Keras' merge layers: `Add`, `Concatenate`,
 * `Multiply`), used in functional models. It has no weights.
 */
export interface MergeLayer {
  /** Keras layer name; assigned by the model when empty. */
  name: string;
  /** Keras class name, e.g. `Add`. */
  readonly className: string;
  /** Always true: tells a merge layer from a {@linkcode Layer}. */
  readonly merge: true;
  /** Keras' `trainable`; a merge layer has no weights either way. */
  trainable: boolean;
  /** Empty: merge layers have no weights. */
  readonly weights: readonly NamedWeight[];
  /** The output shape for inputs of these shapes (without batch axes); throws naming the layer when they do not fit together. */
  plan(inputShapes: readonly (readonly number[])[]): LayerPlan;
  /** Checks the shapes and returns the output shape, like `plan`. */
  build(inputShapes: readonly (readonly number[])[]): number[];
  /** Runs the layer on its inputs, in `inbound_nodes` order. */
  apply(xs: readonly tf.Tensor[], ctx: ApplyContext): tf.Tensor;
  /** The layer's Keras config (snake_case keys). */
  config(): Record<string, unknown>;
  /** As {@linkcode Layer.regularizationLoss}; merge layers have no weights to regularise. */
  regularizationLoss?(): tf.Scalar | null;
}

/** Any layer a model can hold. */
export type AnyLayer = Layer | MergeLayer;

/** Whether `layer` takes several inputs. */
export function isMergeLayer(layer: AnyLayer): layer is MergeLayer {
  return "merge" in layer && layer.merge === true;
}

/** Keras' `(None, ...)` rendering of a shape with a batch axis. */
export function formatShape(shape: readonly number[]): string {
  return `(None, ${shape.join(", ")})`;
}

/** Counts the scalars in a shape. */
export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}
