/**
 * The arithmetic of Keras' BatchNormalization, kept in two functions so that
 * a fused threaded kernel can replace either body without touching the
 * layer: training normalises with the batch's statistics, inference with
 * the moving ones.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import {
  BATCH_NORM_GRAD,
  type BatchNormGradAttrs,
  MOMENTS,
} from "../kernels/custom_kernels.ts";

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
 * batch's mean and biased variance, as one differentiable op whose
 * gradient includes the statistics' dependence on `x`, as Keras' does:
 * with `x̂` the normalised input, `r = 1 / sqrt(variance + epsilon)` and
 * sums over the `n` positions of a channel,
 * `dbeta = Σ dy`, `dgamma = Σ dy x̂`,
 * `dx = gamma r (dy - dbeta / n - x̂ dgamma / n)`.
 * That is nine element-wise passes where differentiating the moments and
 * FusedBatchNorm op by op took about twenty-five (the Multiply, Sub, Add
 * and Sum calls of a fast-recipe step). Where the backend has simdnet's
 * `SimdnetMoments` and `SimdnetBatchNormGrad` kernels (wasm), the
 * statistics are one pass over x and the gradient two.
 */
export function batchNormTrain(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
): BatchNormTrainResult {
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  let stats: { mean: tf.Tensor1D; variance: tf.Tensor1D } | null = null;
  // Ops inside a custom gradient's forward are not taped: the statistics
  // leave through `stats` for the moving averages, off the gradient's path,
  // kept past the forward's own tidy and handed back to the caller's scope.
  const op = tf.customGrad((...args: unknown[]) => {
    const [xs, g, b] = args as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
    const save = args[3] as tf.GradSaveFunc;
    const [mean, variance, y] = tf.tidy(() => {
      const [m, v] = moments(xs, axes);
      return [m, v, batchNormInfer(xs, m, v, g, b, epsilon)];
    });
    stats = {
      mean: tf.keep(mean as tf.Tensor1D),
      variance: tf.keep(variance as tf.Tensor1D),
    };
    save([xs, mean!, variance!, g]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        batchNormTrainGrad(dy, saved, axes, epsilon),
    };
  });
  const y = op(x, gamma, beta);
  const kept = stats! as { mean: tf.Tensor1D; variance: tf.Tensor1D };
  const mean = kept.mean.clone();
  const variance = kept.variance.clone();
  kept.mean.dispose();
  kept.variance.dispose();
  return { y, mean, variance };
}

// The batch mean and biased variance over `axes` (all but the last).
function moments(
  x: tf.Tensor,
  axes: number[],
): [tf.Tensor1D, tf.Tensor1D] {
  if (x.dtype === "float32" && tf.getKernel(MOMENTS, tf.getBackend())) {
    return tf.engine().runKernel(MOMENTS, { x }) as [tf.Tensor1D, tf.Tensor1D];
  }
  const m = tf.moments(x, axes);
  return [m.mean as tf.Tensor1D, m.variance as tf.Tensor1D];
}

// The gradients for x, gamma and beta; `saved` is [x, mean, variance,
// gamma].
function batchNormTrainGrad(
  dy: tf.Tensor,
  saved: tf.Tensor[],
  axes: number[],
  epsilon: number,
): tf.Tensor[] {
  const [x, mean, variance, gamma] = saved as [
    tf.Tensor,
    tf.Tensor1D,
    tf.Tensor1D,
    tf.Tensor1D,
  ];
  if (
    dy.dtype === "float32" && tf.getKernel(BATCH_NORM_GRAD, tf.getBackend())
  ) {
    const attrs: BatchNormGradAttrs = { epsilon };
    return tf.engine().runKernel(
      BATCH_NORM_GRAD,
      { dy, x, mean, variance, gamma },
      attrs as unknown as tf.NamedAttrMap,
    ) as tf.Tensor[];
  }
  return tf.tidy(() => {
    const n = axes.reduce((p, a) => p * x.shape[a]!, 1);
    const inv = tf.rsqrt(tf.add(variance, epsilon));
    const xhat = tf.mul(tf.sub(x, mean), inv);
    const dbeta = tf.sum(dy, axes);
    const dgamma = tf.sum(tf.mul(dy, xhat), axes);
    const centred = tf.sub(
      tf.sub(dy, tf.div(dbeta, n)),
      tf.mul(xhat, tf.div(dgamma, n)),
    );
    return [tf.mul(centred, tf.mul(gamma, inv)), dgamma, dbeta];
  });
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
