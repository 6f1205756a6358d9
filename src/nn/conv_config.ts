/**
 * The `model.json` settings every convolution layer shares (Conv2D,
 * DepthwiseConv2D, SeparableConv2D), read and checked in one place.
 *
 * @module
 */

import { type LayerConfig, padding, pair } from "./config_values.ts";
import { activationFromConfig, type ActivationName } from "./activations.ts";
import {
  readRegularizer,
  refuseActivityRegularizer,
  type Regularizer,
} from "./regularizers.ts";

/** What {@linkcode convSettings} reads. */
export interface ConvSettings {
  strides: [number, number];
  padding: "same" | "valid";
  useBias: boolean;
  biasRegularizer: Regularizer | null;
}

/**
 * Reads strides, padding, use_bias and bias_regularizer; refuses a
 * dilation_rate other than 1 (the convolution gradients simdnet registers
 * have no dilation), groups and an activity regularizer, each in one line.
 */
export function convSettings(
  { config: c, where, unsupported }: LayerConfig,
): ConvSettings {
  const dilation = pair(c.dilation_rate ?? 1, `${where} dilation_rate`);
  if (dilation.some((d) => d !== 1)) {
    throw unsupported("dilation_rate other than 1");
  }
  if (c.groups != null && c.groups !== 1) throw unsupported("groups");
  refuseActivityRegularizer(c.activity_regularizer, where);
  return {
    strides: pair(c.strides ?? 1, `${where} strides`),
    padding: padding(c.padding, `${where} padding`),
    useBias: c.use_bias !== false,
    biasRegularizer: readRegularizer(
      c.bias_regularizer,
      `${where} bias_regularizer`,
    ),
  };
}

/** The layer's activation: any Keras activation name (see `activations.ts`). */
export function activationOf(
  { config: c, where }: LayerConfig,
): ActivationName {
  return activationFromConfig(c.activation, where);
}
