/**
 * Convolution and dense products with bias and activation fused into one
 * kernel, in training as well as inference.
 *
 * `tf.fused.conv2d` and `tf.fused.matMul` fall back to separate
 * conv/add/relu kernels whenever a gradient is being recorded and the
 * activation is not linear, which is every training step of this model.
 * Running the `FusedConv2D` and `_FusedMatMul` kernels directly keeps the
 * fusion; their gradients are registered by `registerGradients`
 * (src/runtime/gradients_nn.ts).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

/** Activations that can be fused, with a gradient. */
export type FusedActivation = "linear" | "relu" | "sigmoid" | "elu" | "relu6";

/**
 * `activation(conv2d(x, kernel) + bias)` with stride 1 and no dilation, in
 * NHWC.
 */
export function conv2dBiasAct(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  bias: tf.Tensor1D | null,
  padding: "same" | "valid",
  activation: FusedActivation,
): tf.Tensor4D {
  const inputs: tf.NamedTensorMap = { x, filter: kernel };
  if (bias !== null) inputs.bias = bias;
  return tf.engine().runKernel(tf.FusedConv2D, inputs, {
    strides: [1, 1],
    pad: padding,
    dataFormat: "NHWC",
    dilations: [1, 1],
    activation,
  }) as tf.Tensor4D;
}

/** `activation(x @ kernel + bias)` for `x` of shape `[batch, in]`. */
export function denseBiasAct(
  x: tf.Tensor2D,
  kernel: tf.Tensor2D,
  bias: tf.Tensor1D | null,
  activation: FusedActivation,
): tf.Tensor2D {
  return tf.tidy(() => {
    // The WASM kernel expects rank-3 operands: add a batch-of-matrices axis.
    const inputs: tf.NamedTensorMap = {
      a: tf.reshape(x, [1, ...x.shape]),
      b: tf.reshape(kernel, [1, ...kernel.shape]),
    };
    if (bias !== null) inputs.bias = bias;
    const y = tf.engine().runKernel(tf._FusedMatMul, inputs, {
      transposeA: false,
      transposeB: false,
      activation,
    }) as tf.Tensor3D;
    return tf.reshape(y, [x.shape[0], kernel.shape[1]]);
  });
}
