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
  padding,
  pair,
} from "./config_values.ts";
import { Conv2D } from "./conv2d.ts";
import { Dense } from "./dense.ts";
import { Dropout } from "./dropout.ts";
import { Flatten } from "./flatten.ts";
import type { AnyLayer } from "./layer.ts";
import { leakyReluFromConfig } from "./leaky_relu.ts";
import { MaxPooling2D } from "./max_pooling2d.ts";
import { normalizationFromConfig } from "./normalization.ts";
import { reluFromConfig } from "./relu.ts";
import { rescalingFromConfig } from "./rescaling.ts";
import { zeroPadding2dFromConfig } from "./zero_padding2d.ts";

function conv2d({ name, config: c, where, unsupported }: LayerConfig): Conv2D {
  if (pair(c.strides ?? 1, `${where} strides`).some((s) => s !== 1)) {
    throw unsupported("strides other than 1");
  }
  const dilation = pair(c.dilation_rate ?? 1, `${where} dilation_rate`);
  if (dilation.some((s) => s !== 1)) throw unsupported("dilation");
  if (c.groups != null && c.groups !== 1) throw unsupported("groups");
  const activation = activationFromConfig(c.activation, where);
  return new Conv2D({
    name,
    filters: count(c.filters, `${where} filters`),
    kernelSize: pair(c.kernel_size, `${where} kernel_size`),
    padding: padding(c.padding, `${where} padding`),
    activation,
    useBias: c.use_bias !== false,
  });
}

function maxPooling2d({ name, config: c, where, unsupported }: LayerConfig) {
  const pool = pair(c.pool_size ?? 2, `${where} pool_size`);
  const strides = c.strides == null
    ? pool
    : pair(c.strides, `${where} strides`);
  if (strides.join() !== pool.join()) {
    throw unsupported("strides other than the pool size");
  }
  return new MaxPooling2D({
    name,
    poolSize: pool,
    padding: padding(c.padding, `${where} padding`),
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
  return new Dense({
    name,
    units: count(c.units, `${where} units`),
    activation: a,
    useBias: c.use_bias !== false,
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
  MaxPooling2D: maxPooling2d,
  Activation: activationLayerFromConfig,
  ReLU: reluFromConfig,
  LeakyReLU: leakyReluFromConfig,
  BatchNormalization: batchNormalizationFromConfig,
  Rescaling: rescalingFromConfig,
  Normalization: normalizationFromConfig,
  ZeroPadding2D: zeroPadding2dFromConfig,
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
