/**
 * Keras `Dense`: `activation(x @ kernel + bias)`.
 *
 * @module
 */

import type * as tf from "@tensorflow/tfjs-core";
import {
  type ActivationName,
  checkActivation,
  withActivation,
} from "./activations.ts";
import { denseBiasAct } from "./fused.ts";
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
import { glorotConfig, makeWeight, zerosConfig } from "./weights.ts";

/** Options of {@linkcode Dense}. */
export interface DenseOptions {
  units: number;
  /**
   * Any Keras activation name (see `activations.ts`); default `linear`. A
   * final `softmax` is skipped when `ctx.logits`.
   */
  activation?: string;
  useBias?: boolean;
  kernelRegularizer?: Regularizer | null;
  biasRegularizer?: Regularizer | null;
  name?: string;
}

/** A fully connected layer on `[batch, features]` inputs. */
export class Dense implements Layer {
  readonly className = "Dense";
  name: string;
  trainable = true;
  readonly units: number;
  readonly activation: ActivationName;
  readonly useBias: boolean;
  readonly kernelRegularizer: Regularizer | null;
  readonly biasRegularizer: Regularizer | null;
  weights: NamedWeight[] = [];

  /** Describes the layer; weights are created when the model builds it. */
  constructor(options: DenseOptions) {
    if (!Number.isInteger(options.units) || options.units < 1) {
      throw new RangeError(
        `Dense needs whole units >= 1, got ${options.units}`,
      );
    }
    this.units = options.units;
    this.activation = checkActivation(options.activation ?? "linear");
    this.useBias = options.useBias ?? true;
    this.kernelRegularizer = checkRegularizer(
      options.kernelRegularizer,
      "Dense kernel_regularizer",
    );
    this.biasRegularizer = checkRegularizer(
      options.biasRegularizer,
      "Dense bias_regularizer",
    );
    this.name = options.name ?? "";
  }

  /** Output shape and `kernel` `[in, units]`, `bias` `[units]`. */
  plan(inputShape: readonly number[]): LayerPlan {
    const [features] = inputShape;
    if (inputShape.length !== 1 || !features) {
      throw new Error(
        `${this.name}: Dense needs flat inputs [features], got ` +
          `[${inputShape}]; put a Flatten layer before it`,
      );
    }
    const weights = [{
      name: `${this.name}/kernel`,
      shape: [features, this.units],
    }];
    if (this.useBias) {
      weights.push({ name: `${this.name}/bias`, shape: [this.units] });
    }
    return { output: [this.units], weights };
  }

  /** Creates `kernel` (from `init`) and a zero `bias`. */
  build(inputShape: readonly number[], init: Initializer): number[] {
    const { output, weights: [kernel, bias] } = this.plan(inputShape);
    this.weights = [makeWeight(kernel!.name, kernel!.shape, init)];
    if (bias) this.weights.push(makeWeight(bias.name, bias.shape, null));
    return output;
  }

  /**
   * Runs the fused product, with the activation in its epilogue when the
   * kernel has it, else as one op after it (a final `softmax` is skipped
   * when `ctx.logits`).
   */
  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    const [kernel, bias] = this.weights;
    if (!kernel) throw new Error(`${this.name}: layer used before build()`);
    return withActivation(this.activation, ctx.logits, (fused) =>
      denseBiasAct(
        x as tf.Tensor2D,
        kernel.variable as tf.Tensor2D,
        (bias?.variable ?? null) as tf.Tensor1D | null,
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
      name: this.name,
      trainable: this.trainable,
      dtype: "float32",
      units: this.units,
      activation: this.activation,
      use_bias: this.useBias,
      kernel_initializer: glorotConfig(),
      bias_initializer: zerosConfig(),
      kernel_regularizer: regularizerConfig(this.kernelRegularizer),
      bias_regularizer: regularizerConfig(this.biasRegularizer),
      activity_regularizer: null,
      kernel_constraint: null,
      bias_constraint: null,
    };
  }
}
