/**
 * Names and attributes of simdnet's own kernels, which tfjs has no op for.
 * The wasm backend registers them (adam.ts, dropout.ts, relu_grad.ts here,
 * through table.ts and register.ts); callers check
 * `tf.getKernel(name, tf.getBackend())` and fall back to tfjs ops elsewhere.
 *
 * @module
 */

/** Adam's update of one variable in one pass: inputs w, g, m, v; outputs w', m', v'. */
export const FUSED_ADAM = "SimdnetAdam";

/** Attributes of {@linkcode FUSED_ADAM}. */
export interface FusedAdamAttrs {
  /** The bias-corrected step size of this iteration. */
  alpha: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** A dropout mask from a seed (src/nn/dropout_mask.ts); no inputs. */
export const DROPOUT_MASK = "SimdnetDropoutMask";

/** Attributes of {@linkcode DROPOUT_MASK}. */
export interface DropoutMaskAttrs {
  shape: number[];
  rate: number;
  /** A uint32. */
  seed: number;
}

/** The gradient through a relu from its output: inputs dy, y; dy * step(y). */
export const RELU_GRAD = "SimdnetReluGrad";

/** GELU, `x * Φ(x)` with the exact erf: input x. */
export const GELU = "SimdnetGelu";

/** The gradient through {@linkcode GELU}: inputs dy, x; dy * gelu'(x). */
export const GELU_GRAD = "SimdnetGeluGrad";

/**
 * The batch mean and biased variance over every axis but the last, in one
 * pass: input x; outputs mean, variance (`[channels]` each).
 */
export const MOMENTS = "SimdnetMoments";

/**
 * The gradients of training batch normalization
 * `(x - mean) / sqrt(variance + epsilon) * gamma + beta` with the batch's
 * own statistics: inputs dy, x, mean, variance, gamma (optional, 1);
 * outputs dx, dgamma, dbeta.
 */
export const BATCH_NORM_GRAD = "SimdnetBatchNormGrad";

/** Attributes of {@linkcode BATCH_NORM_GRAD}. */
export interface BatchNormGradAttrs {
  epsilon: number;
}
