/**
 * The arithmetic of Keras' BatchNormalization, kept in two functions so that
 * a fused threaded kernel can replace either body without touching the
 * layer: training normalises with the batch's statistics, inference with
 * the moving ones.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

/** What {@linkcode batchNormTrain} returns. */
export interface BatchNormTrainResult {
  /** The normalised, scaled and shifted batch. */
  y: tf.Tensor;
  /** The batch mean per channel, `[channels]`. */
  mean: tf.Tensor1D;
  /**
   * The biased batch variance per channel (divided by the count, as
   * `tf.moments`, tfjs-layers and Keras 3 compute it), `[channels]`.
   */
  variance: tf.Tensor1D;
}

/**
 * Training-mode batch normalisation over every axis but the last:
 * `y = (x - mean) / sqrt(variance + epsilon) * gamma + beta` with the
 * batch's mean and biased variance. Three passes over `x`: the mean, the
 * squared deviations, and one FusedBatchNorm; the tape differentiates
 * through all three, so the gradient includes the statistics' dependence
 * on `x`, as Keras' does.
 */
export function batchNormTrain(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): BatchNormTrainResult {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  const y = batchNormInfer(
    x,
    mean as tf.Tensor1D,
    variance as tf.Tensor1D,
    gamma,
    beta,
    epsilon,
  );
  return {
    y,
    mean: mean as tf.Tensor1D,
    variance: variance as tf.Tensor1D,
  };
}

/**
 * `(x - mean) / sqrt(variance + epsilon) * gamma + beta` along the last
 * axis, as one FusedBatchNorm op (its gradient is registered for every
 * input by `registerGradients`).
 */
export function batchNormInfer(
  x: tf.Tensor,
  mean: tf.Tensor1D,
  variance: tf.Tensor1D,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): tf.Tensor {
  return tf.batchNorm(x, mean, variance, beta, gamma, epsilon);
}

/**
 * Keras' moving-average update, `moving - (moving - value) * (1 - momentum)`
 * (tfjs-layers' form; Keras 3 writes `moving * momentum + value * (1 -
 * momentum)`, the same up to rounding). It runs on the tensors the forward
 * pass computed, so under `tf.variableGrads` the ops are recorded but lie
 * on no path to the loss and are never differentiated; the assignment
 * itself is not an op. Deterministic: same inputs, same bits.
 */
export function updateMovingAverage(
  moving: tf.Variable,
  value: tf.Tensor,
  momentum: number,
): void {
  tf.tidy(() => {
    const delta = tf.mul(tf.sub(moving, value), 1 - momentum);
    moving.assign(tf.sub(moving, delta));
  });
}
