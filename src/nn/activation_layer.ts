/**
 * Keras `Activation`: applies one of Keras' activation functions by name.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import {
  activationFromConfig,
  type ActivationName,
  applyActivation,
  checkActivation,
} from "./activations.ts";
import type { LayerConfig } from "./config_values.ts";
import { ElementwiseLayer } from "./elementwise_layer.ts";
import type { ApplyContext } from "./layer.ts";

/** Applies a named activation; `softmax` is skipped when `ctx.logits`. */
export class Activation extends ElementwiseLayer {
  readonly className = "Activation";
  readonly activation: ActivationName;

  /** `activation` is a Keras activation name, e.g. `gelu`. */
  constructor(activation: string, options: { name?: string } = {}) {
    super(options.name);
    this.activation = checkActivation(activation);
  }

  /** Applies the activation (softmax left out when logits are asked for). */
  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    if (this.activation === "softmax" && ctx.logits) return x;
    return applyActivation(this.activation, x);
  }

  /** Keras' `activation` key. */
  protected settings(): Record<string, unknown> {
    return { activation: this.activation };
  }
}

/** Reads an `Activation` layer's config. */
export function activationLayerFromConfig(
  { name, config, where }: LayerConfig,
): Activation {
  return new Activation(activationFromConfig(config.activation, where), {
    name,
  });
}
