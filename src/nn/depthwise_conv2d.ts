/**
 * Keras `DepthwiseConv2D`: each input channel convolved with its own
 * `depth_multiplier` filters, `activation(depthwise(x, kernel) + bias)`.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import { count, type LayerConfig, pair } from "./config_values.ts";
import { activationOf, convConfig, convSettings } from "./conv_config.ts";
import { imageShape, pairOption, windowOutput } from "./conv_shape.ts";
import {
  type ActivationName,
  checkActivation,
  withActivation,
} from "./activations.ts";
import { depthwiseBiasAct } from "./fused.ts";
import type {
  ApplyContext,
  Initializer,
  Layer,
  LayerPlan,
  NamedWeight,
} from "./layer.ts";
import {
  checkRegularizer,
  readRegularizer,
  type Regularizer,
  regularizerConfig,
  weightPenalties,
} from "./regularizers.ts";
import { glorotConfig, makeWeight } from "./weights.ts";

/** Options of {@linkcode DepthwiseConv2D}. */
export interface DepthwiseConv2DOptions {
  kernelSize: number | [number, number];
  /** Default 1. */
  strides?: number | [number, number];
  padding?: "same" | "valid";
  /** Filters per input channel; default 1. */
  depthMultiplier?: number;
  /** Any Keras activation name (see `activations.ts`); default `linear`. */
  activation?: string;
  useBias?: boolean;
  depthwiseRegularizer?: Regularizer | null;
  biasRegularizer?: Regularizer | null;
  name?: string;
}

/**
 * A depthwise 2-D convolution (NHWC, no dilation). Output channel
 * `c * depth_multiplier + m` is input channel `c` convolved with
 * `depthwise_kernel[:, :, c, m]`, as in Keras.
 */
export class DepthwiseConv2D implements Layer {
  readonly className = "DepthwiseConv2D";
  name: string;
  trainable = true;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: "same" | "valid";
  readonly depthMultiplier: number;
  readonly activation: ActivationName;
  readonly useBias: boolean;
  readonly depthwiseRegularizer: Regularizer | null;
  readonly biasRegularizer: Regularizer | null;
  weights: NamedWeight[] = [];

  /** Describes the layer; weights are created when the model builds it. */
  constructor(options: DepthwiseConv2DOptions) {
    this.kernelSize = pairOption(
      options.kernelSize,
      "DepthwiseConv2D kernel_size",
    );
    this.strides = pairOption(options.strides ?? 1, "DepthwiseConv2D strides");
    const m = options.depthMultiplier ?? 1;
    if (!Number.isInteger(m) || m < 1) {
      throw new RangeError(
        `DepthwiseConv2D depth_multiplier must be a whole number >= 1, got ${m}`,
      );
    }
    this.depthMultiplier = m;
    this.padding = options.padding ?? "valid";
    this.activation = checkActivation(options.activation ?? "linear");
    this.useBias = options.useBias ?? true;
    this.depthwiseRegularizer = checkRegularizer(
      options.depthwiseRegularizer,
      "DepthwiseConv2D depthwise_regularizer",
    );
    this.biasRegularizer = checkRegularizer(
      options.biasRegularizer,
      "DepthwiseConv2D bias_regularizer",
    );
    this.name = options.name ?? "";
  }

  /**
   * Output shape and `depthwise_kernel` `[kh, kw, in, multiplier]`, `bias`
   * `[in * multiplier]`.
   */
  plan(inputShape: readonly number[]): LayerPlan {
    const what = `${this.name}: DepthwiseConv2D`;
    const [h, w, c] = imageShape(inputShape, what);
    const [oh, ow] = windowOutput([h, w], {
      size: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
    }, what);
    const out = c * this.depthMultiplier;
    const weights = [{
      name: `${this.name}/depthwise_kernel`,
      shape: [...this.kernelSize, c, this.depthMultiplier],
    }];
    if (this.useBias) weights.push({ name: `${this.name}/bias`, shape: [out] });
    return { output: [oh, ow, out], weights };
  }

  /** Creates `depthwise_kernel` (from `init`) and a zero `bias`. */
  build(inputShape: readonly number[], init: Initializer): number[] {
    const { output, weights: [kernel, bias] } = this.plan(inputShape);
    this.weights = [makeWeight(kernel!.name, kernel!.shape, init)];
    if (bias) this.weights.push(makeWeight(bias.name, bias.shape, null));
    return output;
  }

  /** Runs the fused depthwise convolution. */
  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    const [kernel, bias] = this.weights;
    if (!kernel) throw new Error(`${this.name}: layer used before build()`);
    return withActivation(
      this.activation,
      ctx.logits,
      (fused) =>
        depthwiseBiasAct(
          x as tf.Tensor4D,
          kernel.variable as tf.Tensor4D,
          (bias?.variable ?? null) as tf.Tensor1D | null,
          this.strides,
          this.padding,
          fused,
        ),
    );
  }

  /** Keras' penalties of `depthwise_regularizer` and `bias_regularizer`. */
  regularizationLoss(): tf.Scalar | null {
    const [kernel, bias] = this.weights;
    return weightPenalties([
      [kernel, this.depthwiseRegularizer],
      [bias, this.biasRegularizer],
    ]);
  }

  /** Keras config, with tfjs-layers' keys. */
  config(): Record<string, unknown> {
    return {
      ...convConfig(this),
      depth_multiplier: this.depthMultiplier,
      depthwise_initializer: glorotConfig(),
      depthwise_regularizer: regularizerConfig(this.depthwiseRegularizer),
      depthwise_constraint: null,
    };
  }
}

/** Reads a `DepthwiseConv2D` config from `model.json`. */
export function depthwiseConv2dFromConfig(lc: LayerConfig): DepthwiseConv2D {
  const { name, config: c, where } = lc;
  return new DepthwiseConv2D({
    name,
    kernelSize: pair(c.kernel_size, `${where} kernel_size`),
    depthMultiplier: count(
      c.depth_multiplier ?? 1,
      `${where} depth_multiplier`,
    ),
    depthwiseRegularizer: readRegularizer(
      c.depthwise_regularizer,
      `${where} depthwise_regularizer`,
    ),
    activation: activationOf(lc),
    ...convSettings(lc),
  });
}
