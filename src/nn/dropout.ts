/**
 * Keras `Dropout`: in training, zeroes each activation with probability
 * `rate` and scales the rest by `1 / (1 - rate)`; identity at inference.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { dropoutMask } from "./dropout_mask.ts";
import type { ApplyContext, Layer, LayerPlan, NamedWeight } from "./layer.ts";

/** Inverted dropout with seeded masks. */
export class Dropout implements Layer {
  readonly className = "Dropout";
  name: string;
  trainable = true;
  readonly rate: number;
  readonly weights: NamedWeight[] = [];

  /** Describes the layer; `rate` is the fraction dropped, in [0, 1). */
  constructor(rate: number, options: { name?: string } = {}) {
    if (!(rate >= 0 && rate < 1)) {
      throw new RangeError(`Dropout rate must be in [0, 1), got ${rate}`);
    }
    this.rate = rate;
    this.name = options.name ?? "";
  }

  /** Same shape out as in. */
  build(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }

  /** The output shape (the input's); no weights. */
  plan(inputShape: readonly number[]): LayerPlan {
    return { output: [...inputShape], weights: [] };
  }

  /**
   * Applies the mask in training. The mask's seed comes from
   * `ctx.nextSeed`, so a run is reproducible and resumable, and the mask is
   * the same on every backend (see `dropout_mask.ts`).
   */
  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    if (!ctx.training || this.rate === 0) return x;
    if (!ctx.nextSeed) {
      throw new Error(
        `${this.name}: dropout in training mode needs ctx.nextSeed, a seed ` +
          `source; pass one (fit() does) or apply with training: false`,
      );
    }
    return tf.mul(x, dropoutMask(x.shape, this.rate, ctx.nextSeed()));
  }

  /** Keras config. */
  config(): Record<string, unknown> {
    return {
      name: this.name,
      trainable: this.trainable,
      dtype: "float32",
      rate: this.rate,
      noise_shape: null,
      seed: null,
    };
  }
}
