/**
 * Creation of named weight variables and the Keras initialiser configs
 * written into `model.json`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { Initializer, NamedWeight } from "./layer.ts";
import { zeros } from "./initializers.ts";

/**
 * A trainable float32 variable initialised by `init` (zeros when `null`).
 * The tfjs variable gets an engine-generated name, because tfjs rejects a
 * second variable with the same name and two models may coexist; the Keras
 * name is kept beside it.
 */
export function makeWeight(
  name: string,
  shape: number[],
  init: Initializer | null,
): NamedWeight {
  const values = (init ?? zeros)(shape);
  const variable = tf.tidy(() => tf.variable(tf.tensor(values, shape)));
  return { name, variable };
}

/** Keras config of the default kernel initialiser. */
export function glorotConfig(): Record<string, unknown> {
  return { class_name: "GlorotUniform", config: { seed: null } };
}

/** Keras config of the default bias initialiser. */
export function zerosConfig(): Record<string, unknown> {
  return { class_name: "Zeros", config: {} };
}
