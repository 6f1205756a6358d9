/**
 * Keras `ReLU`: `max_value`, `negative_slope` and `threshold` as Keras'
 * `relu` computes them:
 * `clip(x * [x > threshold], 0, max_value) - negative_slope * relu(threshold - x)`
 * (with `relu(x)` in place of the mask when the threshold is 0).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { numberSetting } from "./config_numbers.ts";
import {
  describe,
  type LayerConfig,
  ModelFormatError,
} from "./config_values.ts";
import { ElementwiseLayer } from "./elementwise_layer.ts";
import type { ApplyContext } from "./layer.ts";

/** Options of {@linkcode ReLU}, Keras' defaults when absent. */
export interface ReLUOptions {
  /** Upper bound of the output; default none. */
  maxValue?: number | null;
  /** Slope below the threshold; default 0. */
  negativeSlope?: number;
  /** Values at or below it are in the negative part; default 0. */
  threshold?: number;
  name?: string;
}

/** A rectified linear unit with Keras' options. */
export class ReLU extends ElementwiseLayer {
  readonly className = "ReLU";
  readonly maxValue: number | null;
  readonly negativeSlope: number;
  readonly threshold: number;

  /** Checks the options as Keras does (each >= 0). */
  constructor(options: ReLUOptions = {}) {
    super(options.name);
    this.maxValue = options.maxValue ?? null;
    this.negativeSlope = options.negativeSlope ?? 0;
    this.threshold = options.threshold ?? 0;
    for (
      const [key, v] of [
        ["max_value", this.maxValue ?? 0],
        ["negative_slope", this.negativeSlope],
        ["threshold", this.threshold],
      ] as const
    ) {
      if (!(Number.isFinite(v) && v >= 0)) {
        throw new RangeError(`ReLU ${key} must be a number >= 0, got ${v}`);
      }
    }
  }

  /** Keras' formula, with the single tfjs op where one fits. */
  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    const { maxValue: max, negativeSlope: slope, threshold: t } = this;
    if (slope !== 0 && max === null && t === 0) return tf.leakyRelu(x, slope);
    let y = t !== 0
      ? tf.mul(x, tf.cast(tf.greater(x, t), "float32"))
      : max === 6
      ? tf.relu6(x)
      : tf.relu(x);
    if (max !== null && !(max === 6 && t === 0)) {
      y = tf.clipByValue(y, 0, max);
    }
    if (slope !== 0) y = tf.sub(y, tf.mul(tf.relu(tf.sub(t, x)), slope));
    return y;
  }

  /** Keras' keys. */
  protected settings(): Record<string, unknown> {
    return {
      max_value: this.maxValue,
      negative_slope: this.negativeSlope,
      threshold: this.threshold,
    };
  }
}

/** Reads a `ReLU` layer's config. */
export function reluFromConfig({ name, config: c, where }: LayerConfig): ReLU {
  const max = c.max_value;
  if (max != null && !(typeof max === "number" && max >= 0 && isFinite(max))) {
    throw new ModelFormatError(
      `${where} max_value must be a number >= 0 or null, got ${describe(max)}`,
    );
  }
  return new ReLU({
    name,
    maxValue: max ?? null,
    negativeSlope: numberSetting(c, "negative_slope", where, 0, { min: 0 }),
    threshold: numberSetting(c, "threshold", where, 0, { min: 0 }),
  });
}
