/**
 * Keras `LeakyReLU`: `x` for `x > 0`, `alpha * x` otherwise.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { numberSetting } from "./config_numbers.ts";
import type { LayerConfig } from "./config_values.ts";
import { ElementwiseLayer } from "./elementwise_layer.ts";
import type { ApplyContext } from "./layer.ts";

/** A leaky rectifier; Keras' default slope is 0.3. */
export class LeakyReLU extends ElementwiseLayer {
  readonly className = "LeakyReLU";
  readonly alpha: number;

  /** `alpha` is the slope below 0 (Keras 3 calls it `negative_slope`). */
  constructor(options: { alpha?: number; name?: string } = {}) {
    super(options.name);
    this.alpha = options.alpha ?? 0.3;
    if (!Number.isFinite(this.alpha)) {
      throw new RangeError(`LeakyReLU alpha must be finite, got ${this.alpha}`);
    }
  }

  /** One LeakyRelu op. */
  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    return tf.leakyRelu(x, this.alpha);
  }

  /**
   * Written as `alpha`, the key tfjs-layers and Keras 2 read; Keras 3
   * reads it too (mapped to `negative_slope`).
   */
  protected settings(): Record<string, unknown> {
    return { alpha: this.alpha };
  }
}

/** Reads a `LeakyReLU` config: `alpha` (tfjs-layers, Keras 2) or `negative_slope` (Keras 3). */
export function leakyReluFromConfig(
  { name, config: c, where }: LayerConfig,
): LeakyReLU {
  const key = c.negative_slope != null && c.alpha == null
    ? "negative_slope"
    : "alpha";
  return new LeakyReLU({ name, alpha: numberSetting(c, key, where, 0.3) });
}
