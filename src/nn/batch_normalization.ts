/**
 * Keras `BatchNormalization` on the last axis: in training, normalises
 * with the batch's statistics and updates the moving mean and variance;
 * in inference, and whenever the layer is frozen (`trainable: false`,
 * Keras 2.x+ semantics), normalises with the moving statistics.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import {
  batchNormInfer,
  batchNormTrain,
  updateMovingAverage,
} from "./batch_norm_train.ts";
import { boolSetting, numberSetting } from "./config_numbers.ts";
import { describe, type LayerConfig } from "./config_values.ts";
import type {
  ApplyContext,
  Initializer,
  Layer,
  LayerPlan,
  NamedWeight,
  PlannedWeight,
} from "./layer.ts";
import { makeWeight, zerosConfig } from "./weights.ts";

/** Options of {@linkcode BatchNormalization}, Keras' defaults when absent. */
export interface BatchNormalizationOptions {
  /**
   * The normalised axis counting the batch axis: -1 (default) or the
   * index of the last axis, e.g. 3 for images; no other axis is supported.
   */
  axis?: number;
  /** Weight of the old value in the moving averages; default 0.99. */
  momentum?: number;
  /** Added to the variance; default 1e-3. */
  epsilon?: number;
  /** Learn an offset `beta`; default true. */
  center?: boolean;
  /** Learn a scale `gamma`; default true. */
  scale?: boolean;
  name?: string;
}

const ones: Initializer = (shape) =>
  new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1);

/** Batch normalisation of the channels (last) axis. */
export class BatchNormalization implements Layer {
  readonly className = "BatchNormalization";
  name: string;
  trainable = true;
  readonly axis: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  weights: NamedWeight[] = [];

  /** Describes the layer; weights are created when the model builds it. */
  constructor(options: BatchNormalizationOptions = {}) {
    this.axis = options.axis ?? -1;
    this.momentum = options.momentum ?? 0.99;
    this.epsilon = options.epsilon ?? 1e-3;
    this.center = options.center ?? true;
    this.scale = options.scale ?? true;
    this.name = options.name ?? "";
    if (!(this.momentum >= 0 && this.momentum <= 1)) {
      throw new RangeError(
        `BatchNormalization momentum must be in [0, 1], got ${this.momentum}`,
      );
    }
    if (!(this.epsilon > 0 && Number.isFinite(this.epsilon))) {
      throw new RangeError(
        `BatchNormalization epsilon must be > 0, got ${this.epsilon}`,
      );
    }
  }

  /**
   * The input's shape; `gamma` (with `scale`), `beta` (with `center`),
   * `moving_mean`, `moving_variance` (non-trainable), each `[channels]`,
   * in Keras' order.
   */
  plan(inputShape: readonly number[]): LayerPlan {
    const channels = inputShape[inputShape.length - 1];
    if (!channels || inputShape.length === 0) {
      throw new Error(
        `${this.name}: BatchNormalization needs inputs with a channels ` +
          `axis, got [${inputShape}]`,
      );
    }
    if (this.axis !== -1 && this.axis !== inputShape.length) {
      throw new Error(
        `${this.name}: BatchNormalization axis ${this.axis} is not the last ` +
          `axis of inputs [batch, ${inputShape}]; simdnet normalises the ` +
          `last axis only: use axis -1`,
      );
    }
    const weights: PlannedWeight[] = [];
    const add = (key: string, trainable: boolean) =>
      weights.push({
        name: `${this.name}/${key}`,
        shape: [channels],
        ...(trainable ? {} : { trainable: false }),
      });
    if (this.scale) add("gamma", true);
    if (this.center) add("beta", true);
    add("moving_mean", false);
    add("moving_variance", false);
    return { output: [...inputShape], weights };
  }

  /** Creates gamma = 1, beta = 0, moving mean = 0, moving variance = 1. */
  build(inputShape: readonly number[]): number[] {
    const { output, weights } = this.plan(inputShape);
    this.weights = weights.map((w) => {
      const key = w.name.slice(w.name.lastIndexOf("/") + 1);
      const init = key === "gamma" || key === "moving_variance" ? ones : null;
      const made = makeWeight(w.name, w.shape, init);
      return w.trainable === false ? { ...made, trainable: false } : made;
    });
    return output;
  }

  #weight(key: string): tf.Variable | null {
    const w = this.weights.find((w) => w.name === `${this.name}/${key}`);
    return w?.variable ?? null;
  }

  /**
   * Training mode (`ctx.training` on a trainable layer) normalises with
   * the batch statistics and moves the moving ones toward them; otherwise
   * one FusedBatchNorm with the moving statistics.
   */
  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    const movingMean = this.#weight("moving_mean");
    const movingVariance = this.#weight("moving_variance");
    if (!movingMean || !movingVariance) {
      throw new Error(`${this.name}: layer used before build()`);
    }
    const channels = movingMean.shape as [number];
    // FusedBatchNorm always gets a scale and an offset, so its gradient
    // config can save them.
    const gamma = this.#weight("gamma") ?? tf.ones(channels);
    const beta = this.#weight("beta") ?? tf.zeros(channels);
    if (!(ctx.training && this.trainable)) {
      return batchNormInfer(
        x,
        movingMean as tf.Tensor1D,
        movingVariance as tf.Tensor1D,
        gamma as tf.Tensor1D,
        beta as tf.Tensor1D,
        this.epsilon,
      );
    }
    const { y, mean, variance } = batchNormTrain(
      x,
      gamma as tf.Tensor1D,
      beta as tf.Tensor1D,
      this.epsilon,
    );
    updateMovingAverage(movingMean, mean, this.momentum);
    updateMovingAverage(movingVariance, variance, this.momentum);
    return y;
  }

  /** Keras config. */
  config(): Record<string, unknown> {
    const init = (className: string) => ({ class_name: className, config: {} });
    return {
      name: this.name,
      trainable: this.trainable,
      dtype: "float32",
      axis: this.axis,
      momentum: this.momentum,
      epsilon: this.epsilon,
      center: this.center,
      scale: this.scale,
      beta_initializer: zerosConfig(),
      gamma_initializer: init("Ones"),
      moving_mean_initializer: zerosConfig(),
      moving_variance_initializer: init("Ones"),
      beta_regularizer: null,
      gamma_regularizer: null,
      beta_constraint: null,
      gamma_constraint: null,
    };
  }
}

/**
 * Reads a `BatchNormalization` config. The axis (an integer or a list of
 * one, as Keras writes it after building) must be the last one, which the
 * layer checks against its input shape.
 */
export function batchNormalizationFromConfig(
  { name, config: c, where, unsupported }: LayerConfig,
): BatchNormalization {
  const axis = Array.isArray(c.axis) && c.axis.length === 1
    ? c.axis[0]
    : c.axis ?? -1;
  if (!Number.isInteger(axis) || (axis < 1 && axis !== -1)) {
    throw unsupported(
      `axis ${describe(c.axis)} (simdnet normalises the last axis only: ` +
        `use axis -1)`,
    );
  }
  for (const key of ["beta_regularizer", "gamma_regularizer"]) {
    if (c[key] != null) throw unsupported(key);
  }
  if (c.renorm === true) throw unsupported("renorm");
  if (c.virtual_batch_size != null) throw unsupported("virtual_batch_size");
  return new BatchNormalization({
    name,
    axis,
    momentum: numberSetting(c, "momentum", where, 0.99, { min: 0, max: 1 }),
    epsilon: numberSetting(c, "epsilon", where, 1e-3, { min: 0, above: true }),
    center: boolSetting(c, "center", where, true),
    scale: boolSetting(c, "scale", where, true),
  });
}
