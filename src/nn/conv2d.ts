/**
 * Keras `Conv2D`: `activation(conv(x, kernel, strides) + bias)`, with
 * TensorFlow's `same` padding (the odd pixel of padding goes to the bottom
 * and right) and optional L1/L2 weight regularizers.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import {
  type ActivationName,
  checkActivation,
  withActivation,
} from "./activations.ts";
import { imageShape, pairOption, windowOutput } from "./conv_shape.ts";
import { convConfig } from "./conv_config.ts";
import { conv2dBiasAct } from "./fused.ts";
import type {
  ApplyContext,
  Initializer,
  Layer,
  LayerPlan,
  NamedWeight,
} from "./layer.ts";
import {
  checkRegularizer,
  type Regularizer,
  regularizerConfig,
  weightPenalties,
} from "./regularizers.ts";
import { glorotConfig, makeWeight } from "./weights.ts";

/** Options of {@linkcode Conv2D}. */
export interface Conv2DOptions {
  filters: number;
  kernelSize: number | [number, number];
  /** Default 1. */
  strides?: number | [number, number];
  padding?: "same" | "valid";
  /** Any Keras activation name (see `activations.ts`); default `linear`. */
  activation?: string;
  useBias?: boolean;
  kernelRegularizer?: Regularizer | null;
  biasRegularizer?: Regularizer | null;
  name?: string;
}

/**
 * A 2-D convolution layer (NHWC, any kernel size and strides, no dilation:
 * the convolution gradients simdnet registers do not handle it).
 */
export class Conv2D implements Layer {
  readonly className = "Conv2D";
  name: string;
  trainable = true;
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: "same" | "valid";
  readonly activation: ActivationName;
  readonly useBias: boolean;
  readonly kernelRegularizer: Regularizer | null;
  readonly biasRegularizer: Regularizer | null;
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
    this.strides = pairOption(options.strides ?? 1, "Conv2D strides");
    this.padding = options.padding ?? "valid";
    this.activation = checkActivation(options.activation ?? "linear");
    this.useBias = options.useBias ?? true;
    this.kernelRegularizer = checkRegularizer(
      options.kernelRegularizer,
      "Conv2D kernel_regularizer",
    );
    this.biasRegularizer = checkRegularizer(
      options.biasRegularizer,
      "Conv2D bias_regularizer",
    );
    this.name = options.name ?? "";
  }

  /** Output shape and `kernel` `[kh, kw, in, filters]`, `bias` `[filters]`. */
  plan(inputShape: readonly number[]): LayerPlan {
    const what = `${this.name}: Conv2D`;
    const [h, w, c] = imageShape(inputShape, what);
    const [oh, ow] = windowOutput([h, w], {
      size: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
    }, what);
    const [kh, kw] = this.kernelSize;
    const weights = [{
      name: `${this.name}/kernel`,
      shape: [kh, kw, c, this.filters],
    }];
    if (this.useBias) {
      weights.push({ name: `${this.name}/bias`, shape: [this.filters] });
    }
    return { output: [oh, ow, this.filters], weights };
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
    return withActivation(this.activation, ctx.logits, (fused) =>
      conv2dBiasAct(
        x as tf.Tensor4D,
        kernel.variable as tf.Tensor4D,
        (bias?.variable ?? null) as tf.Tensor1D | null,
        this.strides,
        this.padding,
        fused,
      ));
  }

  /** Keras' penalties of `kernel_regularizer` and `bias_regularizer`. */
  regularizationLoss(): tf.Scalar | null {
    const [kernel, bias] = this.weights;
    return weightPenalties([
      [kernel, this.kernelRegularizer],
      [bias, this.biasRegularizer],
    ]);
  }

  /** Keras config. */
  config(): Record<string, unknown> {
    return {
      ...convConfig(this),
      filters: this.filters,
      kernel_initializer: glorotConfig(),
      kernel_regularizer: regularizerConfig(this.kernelRegularizer),
      kernel_constraint: null,
    };
  }
}
