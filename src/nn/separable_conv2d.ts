/**
 * Keras `SeparableConv2D`: a depthwise convolution (per input channel,
 * `depth_multiplier` filters each, with the layer's strides and padding)
 * followed by a 1x1 pointwise convolution to `filters` channels, then bias
 * and activation, as MobileNet-style networks use it.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import { count, type LayerConfig, pair } from "./config_values.ts";
import {
  type ActivationName,
  checkActivation,
  withActivation,
} from "./activations.ts";
import { activationOf, convConfig, convSettings } from "./conv_config.ts";
import { imageShape, pairOption, windowOutput } from "./conv_shape.ts";
import { conv2dBiasAct, depthwiseBiasAct } from "./fused.ts";
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

/** Options of {@linkcode SeparableConv2D}. */
export interface SeparableConv2DOptions {
  filters: number;
  kernelSize: number | [number, number];
  /** Strides of the depthwise step; default 1. */
  strides?: number | [number, number];
  padding?: "same" | "valid";
  /** Depthwise filters per input channel; default 1. */
  depthMultiplier?: number;
  /** Any Keras activation name (see `activations.ts`); default `linear`. */
  activation?: string;
  useBias?: boolean;
  depthwiseRegularizer?: Regularizer | null;
  pointwiseRegularizer?: Regularizer | null;
  biasRegularizer?: Regularizer | null;
  name?: string;
}

/** A depthwise-separable 2-D convolution (NHWC, no dilation). */
export class SeparableConv2D implements Layer {
  readonly className = "SeparableConv2D";
  name: string;
  trainable = true;
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: "same" | "valid";
  readonly depthMultiplier: number;
  readonly activation: ActivationName;
  readonly useBias: boolean;
  readonly depthwiseRegularizer: Regularizer | null;
  readonly pointwiseRegularizer: Regularizer | null;
  readonly biasRegularizer: Regularizer | null;
  weights: NamedWeight[] = [];

  /** Describes the layer; weights are created when the model builds it. */
  constructor(options: SeparableConv2DOptions) {
    const whole = (v: number, what: string) => {
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(
          `SeparableConv2D ${what} must be a whole number >= 1, got ${v}`,
        );
      }
      return v;
    };
    this.filters = whole(options.filters, "filters");
    this.depthMultiplier = whole(
      options.depthMultiplier ?? 1,
      "depth_multiplier",
    );
    this.kernelSize = pairOption(
      options.kernelSize,
      "SeparableConv2D kernel_size",
    );
    this.strides = pairOption(options.strides ?? 1, "SeparableConv2D strides");
    this.padding = options.padding ?? "valid";
    this.activation = checkActivation(options.activation ?? "linear");
    this.useBias = options.useBias ?? true;
    const reg = (r: Regularizer | null | undefined, what: string) =>
      checkRegularizer(r, `SeparableConv2D ${what}`);
    this.depthwiseRegularizer = reg(
      options.depthwiseRegularizer,
      "depthwise_regularizer",
    );
    this.pointwiseRegularizer = reg(
      options.pointwiseRegularizer,
      "pointwise_regularizer",
    );
    this.biasRegularizer = reg(options.biasRegularizer, "bias_regularizer");
    this.name = options.name ?? "";
  }

  /**
   * Output shape and, in Keras order, `depthwise_kernel` `[kh, kw, in, m]`,
   * `pointwise_kernel` `[1, 1, in * m, filters]`, `bias` `[filters]`.
   */
  plan(inputShape: readonly number[]): LayerPlan {
    const what = `${this.name}: SeparableConv2D`;
    const [h, w, c] = imageShape(inputShape, what);
    const [oh, ow] = windowOutput([h, w], {
      size: this.kernelSize,
      strides: this.strides,
      padding: this.padding,
    }, what);
    const m = this.depthMultiplier;
    const weights = [
      {
        name: `${this.name}/depthwise_kernel`,
        shape: [...this.kernelSize, c, m],
      },
      {
        name: `${this.name}/pointwise_kernel`,
        shape: [1, 1, c * m, this.filters],
      },
    ];
    if (this.useBias) {
      weights.push({ name: `${this.name}/bias`, shape: [this.filters] });
    }
    return { output: [oh, ow, this.filters], weights };
  }

  /** Creates both kernels (from `init`) and a zero `bias`. */
  build(inputShape: readonly number[], init: Initializer): number[] {
    const { output, weights: [depthwise, pointwise, bias] } = this.plan(
      inputShape,
    );
    this.weights = [
      makeWeight(depthwise!.name, depthwise!.shape, init),
      makeWeight(pointwise!.name, pointwise!.shape, init),
    ];
    if (bias) this.weights.push(makeWeight(bias.name, bias.shape, null));
    return output;
  }

  /**
   * The depthwise step, then the pointwise one as a fused 1x1 convolution
   * with the bias and activation.
   */
  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    const [depthwise, pointwise, bias] = this.weights;
    if (!depthwise || !pointwise) {
      throw new Error(`${this.name}: layer used before build()`);
    }
    const mid = depthwiseBiasAct(
      x as tf.Tensor4D,
      depthwise.variable as tf.Tensor4D,
      null,
      this.strides,
      this.padding,
      "linear",
    );
    return withActivation(this.activation, ctx.logits, (fused) =>
      conv2dBiasAct(
        mid,
        pointwise.variable as tf.Tensor4D,
        (bias?.variable ?? null) as tf.Tensor1D | null,
        [1, 1],
        "valid",
        fused,
      ));
  }

  /** Keras' penalties of the depthwise, pointwise and bias regularizers. */
  regularizationLoss(): tf.Scalar | null {
    const [depthwise, pointwise, bias] = this.weights;
    return weightPenalties([
      [depthwise, this.depthwiseRegularizer],
      [pointwise, this.pointwiseRegularizer],
      [bias, this.biasRegularizer],
    ]);
  }

  /**
   * Keras config, with tfjs-layers' keys plus `depth_multiplier` (which
   * tfjs-layers reads but does not write).
   */
  config(): Record<string, unknown> {
    return {
      ...convConfig(this),
      filters: this.filters,
      depth_multiplier: this.depthMultiplier,
      depthwise_initializer: glorotConfig(),
      pointwise_initializer: glorotConfig(),
      depthwise_regularizer: regularizerConfig(this.depthwiseRegularizer),
      pointwise_regularizer: regularizerConfig(this.pointwiseRegularizer),
      depthwise_constraint: null,
      pointwise_constraint: null,
    };
  }
}

/** Reads a `SeparableConv2D` config from `model.json`. */
export function separableConv2dFromConfig(lc: LayerConfig): SeparableConv2D {
  const { name, config: c, where } = lc;
  const reg = (key: string) => readRegularizer(c[key], `${where} ${key}`);
  return new SeparableConv2D({
    name,
    filters: count(c.filters, `${where} filters`),
    kernelSize: pair(c.kernel_size, `${where} kernel_size`),
    depthMultiplier: count(
      c.depth_multiplier ?? 1,
      `${where} depth_multiplier`,
    ),
    depthwiseRegularizer: reg("depthwise_regularizer"),
    pointwiseRegularizer: reg("pointwise_regularizer"),
    activation: activationOf(lc),
    ...convSettings(lc),
  });
}
