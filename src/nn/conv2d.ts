/**
 * Keras `Conv2D` with stride 1: `activation(conv(x, kernel) + bias)`.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import {
  type ActivationName,
  applyActivation,
  checkActivation,
  splitActivation,
} from "./activations.ts";
import { conv2dBiasAct } from "./fused.ts";
import type {
  ApplyContext,
  Initializer,
  Layer,
  LayerPlan,
  NamedWeight,
} from "./layer.ts";
import { glorotConfig, makeWeight, zerosConfig } from "./weights.ts";

/** Options of {@linkcode Conv2D}. */
export interface Conv2DOptions {
  filters: number;
  kernelSize: number | [number, number];
  padding?: "same" | "valid";
  /** Any Keras activation name (see `activations.ts`); default `linear`. */
  activation?: string;
  useBias?: boolean;
  name?: string;
}

/** A 2-D convolution layer (NHWC, stride 1, no dilation). */
export class Conv2D implements Layer {
  readonly className = "Conv2D";
  name: string;
  trainable = true;
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly padding: "same" | "valid";
  readonly activation: ActivationName;
  readonly useBias: boolean;
  weights: NamedWeight[] = [];

  /** Describes the layer; weights are created when the model builds it. */
  constructor(options: Conv2DOptions) {
    const k = options.kernelSize;
    this.kernelSize = typeof k === "number" ? [k, k] : k;
    if (
      !Number.isInteger(options.filters) || options.filters < 1 ||
      !this.kernelSize.every((d) => Number.isInteger(d) && d >= 1)
    ) {
      throw new RangeError(
        `Conv2D needs whole filters >= 1 and kernel size >= 1, got filters ` +
          `${options.filters} and kernel size ${this.kernelSize}`,
      );
    }
    this.filters = options.filters;
    this.padding = options.padding ?? "valid";
    this.activation = checkActivation(options.activation ?? "linear");
    this.useBias = options.useBias ?? true;
    this.name = options.name ?? "";
  }

  /** Output shape and `kernel` `[kh, kw, in, filters]`, `bias` `[filters]`. */
  plan(inputShape: readonly number[]): LayerPlan {
    const [h, w, c] = inputShape;
    if (inputShape.length !== 3 || !h || !w || !c) {
      throw new Error(
        `${this.name}: Conv2D needs inputs of shape [height, width, ` +
          `channels], got [${inputShape}]`,
      );
    }
    const [kh, kw] = this.kernelSize;
    const weights = [{
      name: `${this.name}/kernel`,
      shape: [kh, kw, c, this.filters],
    }];
    if (this.useBias) {
      weights.push({ name: `${this.name}/bias`, shape: [this.filters] });
    }
    if (this.padding === "same") {
      return { output: [h, w, this.filters], weights };
    }
    if (h < kh || w < kw) {
      throw new Error(
        `${this.name}: a ${kh}x${kw} 'valid' convolution cannot run on a ` +
          `${h}x${w} input; use padding 'same' or a larger input`,
      );
    }
    return { output: [h - kh + 1, w - kw + 1, this.filters], weights };
  }

  /** Creates `kernel` (from `init`) and a zero `bias`. */
  build(inputShape: readonly number[], init: Initializer): number[] {
    const { output, weights: [kernel, bias] } = this.plan(inputShape);
    this.weights = [makeWeight(kernel!.name, kernel!.shape, init)];
    if (bias) this.weights.push(makeWeight(bias.name, bias.shape, null));
    return output;
  }

  /**
   * Runs the fused convolution, with the activation in its epilogue when
   * the kernel has it, else as one op after it; a final `softmax` is
   * skipped when `ctx.logits`.
   */
  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    const [kernel, bias] = this.weights;
    if (!kernel) throw new Error(`${this.name}: layer used before build()`);
    const { fused, after } = splitActivation(this.activation, ctx.logits);
    const y = conv2dBiasAct(
      x as tf.Tensor4D,
      kernel.variable as tf.Tensor4D,
      (bias?.variable ?? null) as tf.Tensor1D | null,
      this.padding,
      fused,
    );
    return after === null ? y : applyActivation(after, y);
  }

  /** Keras config. */
  config(): Record<string, unknown> {
    return {
      name: this.name,
      trainable: this.trainable,
      dtype: "float32",
      filters: this.filters,
      kernel_size: this.kernelSize,
      strides: [1, 1],
      padding: this.padding,
      data_format: "channels_last",
      dilation_rate: [1, 1],
      activation: this.activation,
      use_bias: this.useBias,
      kernel_initializer: glorotConfig(),
      bias_initializer: zerosConfig(),
      kernel_regularizer: null,
      bias_regularizer: null,
      activity_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
    };
  }
}
