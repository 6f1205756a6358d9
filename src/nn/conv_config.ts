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
  regularizerConfig,
} from "./regularizers.ts";
import { zerosConfig } from "./weights.ts";

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

/** The fields of a convolution layer that {@linkcode convConfig} writes. */
export interface ConvLayerFields {
  name: string;
  trainable: boolean;
  kernelSize: readonly [number, number];
  strides: readonly [number, number];
  padding: "same" | "valid";
  activation: string;
  useBias: boolean;
  biasRegularizer: Regularizer | null;
}

/**
 * The config keys every convolution layer writes, as tfjs-layers writes
 * them; each layer adds its own kernels' keys.
 */
export function convConfig(layer: ConvLayerFields): Record<string, unknown> {
  return {
    name: layer.name,
    trainable: layer.trainable,
    dtype: "float32",
    kernel_size: layer.kernelSize,
    strides: layer.strides,
    padding: layer.padding,
    data_format: "channels_last",
    dilation_rate: [1, 1],
    activation: layer.activation,
    use_bias: layer.useBias,
    bias_initializer: zerosConfig(),
    bias_regularizer: regularizerConfig(layer.biasRegularizer),
    activity_regularizer: null,
    bias_constraint: null,
  };
}
