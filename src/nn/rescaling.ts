/**
 * Keras `Rescaling`: `x * scale + offset`, e.g. bytes to [0, 1] with
 * `scale = 1 / 255`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { numberSetting } from "./config_numbers.ts";
import type { LayerConfig } from "./config_values.ts";
import { ElementwiseLayer } from "./elementwise_layer.ts";
import type { ApplyContext } from "./layer.ts";

/** Scales and shifts every value by the same numbers. */
export class Rescaling extends ElementwiseLayer {
  readonly className = "Rescaling";
  readonly scale: number;
  readonly offset: number;

  /** `scale` multiplies, then `offset` (default 0) is added. */
  constructor(scale: number, options: { offset?: number; name?: string } = {}) {
    super(options.name);
    this.scale = scale;
    this.offset = options.offset ?? 0;
    if (!Number.isFinite(this.scale) || !Number.isFinite(this.offset)) {
      throw new RangeError(
        `Rescaling needs finite scale and offset, got ${scale} and ` +
          `${this.offset}`,
      );
    }
  }

  /** `x * scale + offset`. */
  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    const y = tf.mul(x, this.scale);
    return this.offset === 0 ? y : tf.add(y, this.offset);
  }

  /** Keras' keys. */
  protected settings(): Record<string, unknown> {
    return { scale: this.scale, offset: this.offset };
  }
}

/** Reads a `Rescaling` config (scalar scale and offset). */
export function rescalingFromConfig(
  { name, config: c, where, unsupported }: LayerConfig,
): Rescaling {
  if (Array.isArray(c.scale) || Array.isArray(c.offset)) {
    throw unsupported("a per-channel scale or offset");
  }
  return new Rescaling(numberSetting(c, "scale", where, NaN), {
    name,
    offset: numberSetting(c, "offset", where, 0),
  });
}
