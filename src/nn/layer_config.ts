/**
 * The one table from Keras class names to simdnet layers: each entry reads
 * a layer's config from `model.json` (checked, one line per bad value).
 * A new layer adds its entry here.
 *
 * @module
 */

import { activationLayerFromConfig } from "./activation_layer.ts";
import { activationFromConfig } from "./activations.ts";
import { batchNormalizationFromConfig } from "./batch_normalization.ts";
import {
  count,
  describe,
  type Dict,
  type LayerConfig,
  ModelFormatError,
  pair,
} from "./config_values.ts";
import { averagePooling2dFromConfig } from "./average_pooling2d.ts";
import { convSettings } from "./conv_config.ts";
import { Conv2D } from "./conv2d.ts";
import { Dense } from "./dense.ts";
import { depthwiseConv2dFromConfig } from "./depthwise_conv2d.ts";
import { Dropout } from "./dropout.ts";
import { Flatten } from "./flatten.ts";
import {
  globalAveragePooling2dFromConfig,
  globalMaxPooling2dFromConfig,
} from "./global_pooling2d.ts";
import type { AnyLayer } from "./layer.ts";
import { leakyReluFromConfig } from "./leaky_relu.ts";
import { normalizationFromConfig } from "./normalization.ts";
import { reluFromConfig } from "./relu.ts";
import { rescalingFromConfig } from "./rescaling.ts";
import { zeroPadding2dFromConfig } from "./zero_padding2d.ts";
import {
  addFromConfig,
  concatenateFromConfig,
  multiplyFromConfig,
} from "./merge_layers.ts";

import { maxPooling2dFromConfig } from "./max_pooling2d.ts";
import { readRegularizer, refuseActivityRegularizer } from "./regularizers.ts";
import { separableConv2dFromConfig } from "./separable_conv2d.ts";

function conv2d(lc: LayerConfig): Conv2D {
  const { name, config: c, where } = lc;
  const activation = activationFromConfig(c.activation, where);
  return new Conv2D({
    name,
    filters: count(c.filters, `${where} filters`),
    kernelSize: pair(c.kernel_size, `${where} kernel_size`),
    activation,
    kernelRegularizer: readRegularizer(
      c.kernel_regularizer,
      `${where} kernel_regularizer`,
    ),
    ...convSettings(lc),
  });
}

function dropout({ name, config: c, where }: LayerConfig): Dropout {
  const rate = c.rate;
  if (typeof rate !== "number" || !(rate >= 0 && rate < 1)) {
    throw new ModelFormatError(
      `${where} rate must be a number in [0, 1), got ${describe(rate)}`,
    );
  }
  return new Dropout(rate, { name });
}

function dense({ name, config: c, where }: LayerConfig): Dense {
  const a = activationFromConfig(c.activation, where);
  refuseActivityRegularizer(c.activity_regularizer, where);
  return new Dense({
    name,
    units: count(c.units, `${where} units`),
    activation: a,
    useBias: c.use_bias !== false,
    kernelRegularizer: readRegularizer(
      c.kernel_regularizer,
      `${where} kernel_regularizer`,
    ),
    biasRegularizer: readRegularizer(
      c.bias_regularizer,
      `${where} bias_regularizer`,
    ),
  });
}

/** Keras class name to the function that reads its config. */
export const LAYER_CONFIGS: Readonly<
  Record<string, (c: LayerConfig) => AnyLayer>
> = Object.freeze({
  Conv2D: conv2d,
  Dense: dense,
  Dropout: dropout,
  Flatten: ({ name }: LayerConfig) => new Flatten({ name }),
  MaxPooling2D: maxPooling2dFromConfig,
  DepthwiseConv2D: depthwiseConv2dFromConfig,
  SeparableConv2D: separableConv2dFromConfig,
  AveragePooling2D: averagePooling2dFromConfig,
  GlobalAveragePooling2D: globalAveragePooling2dFromConfig,
  GlobalMaxPooling2D: globalMaxPooling2dFromConfig,
  Activation: activationLayerFromConfig,
  ReLU: reluFromConfig,
  LeakyReLU: leakyReluFromConfig,
  BatchNormalization: batchNormalizationFromConfig,
  Rescaling: rescalingFromConfig,
  Normalization: normalizationFromConfig,
  ZeroPadding2D: zeroPadding2dFromConfig,
  Add: addFromConfig,
  Concatenate: concatenateFromConfig,
  Multiply: multiplyFromConfig,
});

/**
 * Builds the (unbuilt) layer a `model.json` layer entry describes. Throws
 * a {@linkcode ModelFormatError} naming the layer and the setting simdnet
 * cannot run.
 */
export function layerFromConfig(className: string, c: Dict): AnyLayer {
  const name = c.name ?? "";
  const kind = className.length > 60
    ? `${className.slice(0, 57)}...`
    : className;
  if (typeof name !== "string" || name.length > 256) {
    throw new ModelFormatError(
      `a ${kind} layer has name ${describe(name)}; a layer name must be a ` +
        `string of at most 256 characters`,
    );
  }
  const where = `layer '${name}' (${kind})`;
  const unsupported = (what: string) =>
    new ModelFormatError(`${where} uses ${what}, which simdnet cannot run`);
  if (c.data_format != null && c.data_format !== "channels_last") {
    throw unsupported(`data_format ${describe(c.data_format)}`);
  }
  const read = Object.hasOwn(LAYER_CONFIGS, className)
    ? LAYER_CONFIGS[className]
    : undefined;
  if (read === undefined) {
    throw new ModelFormatError(
      `${where} is not supported; simdnet runs ` +
        `${Object.keys(LAYER_CONFIGS).join(", ")}`,
    );
  }
  return read({ name, config: c, where, unsupported });
}
