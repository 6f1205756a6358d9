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

/** A convolution's `pad` attribute: a mode, or explicit NHWC paddings. */
type PadAttr = "same" | "valid" | [
  [number, number],
  [number, number],
  [number, number],
  [number, number],
];

/**
 * `padding`, written out as explicit paddings when a stride exceeds the
 * kernel size: tfjs-backend-wasm 4.22's XNNPACK convolutions (Conv2D,
 * FusedConv2D, DepthwiseConv2dNative, FusedDepthwiseConv2D) return zeros
 * or wrong values for `same` padding then, e.g. a 1x3 kernel with strides
 * 3x1 on an 11x10 input (54 of 240 depthwise and 27 of 240 conv cases of
 * kernels up to 5x3 and strides up to 4x3 wrong against cpu; with the
 * same padding given explicitly, none). TensorFlow's split: the odd cell
 * of padding goes after.
 */
function padAttr(
  shape: readonly number[],
  kernel: readonly number[],
  strides: readonly [number, number],
  padding: "same" | "valid",
): PadAttr {
  const [kh = 1, kw = 1] = kernel;
  if (padding === "valid" || (strides[0] <= kh && strides[1] <= kw)) {
    return padding;
  }
  const split = (n: number, k: number, s: number): [number, number] => {
    const total = Math.max((Math.ceil(n / s) - 1) * s + k - n, 0);
    return [Math.floor(total / 2), total - Math.floor(total / 2)];
  };
  return [
    [0, 0],
    split(shape[1] ?? 1, kh, strides[0]),
    split(shape[2] ?? 1, kw, strides[1]),
    [0, 0],
  ];
}

/**
 * `activation(conv2d(x, kernel, strides) + bias)` without dilation, in
 * NHWC.
 */
export function conv2dBiasAct(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  bias: tf.Tensor1D | null,
  strides: readonly [number, number],
  padding: "same" | "valid",
  activation: FusedActivation,
): tf.Tensor4D {
  const inputs: tf.NamedTensorMap = { x, filter: kernel };
  if (bias !== null) inputs.bias = bias;
  return tf.engine().runKernel(tf.FusedConv2D, inputs, {
    strides: [strides[0], strides[1]],
    pad: padAttr(x.shape, kernel.shape, strides, padding),
    dataFormat: "NHWC",
    dilations: [1, 1],
    activation,
  }) as tf.Tensor4D;
}

/**
 * `activation(depthwiseConv2d(x, kernel, strides) + bias)` in NHWC, for
 * `kernel` `[kh, kw, in, multiplier]`: one `FusedDepthwiseConv2D` kernel,
 * whose gradient `registerGradients` provides (gradients_conv.ts).
 */
export function depthwiseBiasAct(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  bias: tf.Tensor1D | null,
  strides: readonly [number, number],
  padding: "same" | "valid",
  activation: FusedActivation,
): tf.Tensor4D {
  const inputs: tf.NamedTensorMap = { x, filter: kernel };
  if (bias !== null) inputs.bias = bias;
  return tf.engine().runKernel(tf.FusedDepthwiseConv2D, inputs, {
    strides: [strides[0], strides[1]],
    pad: padAttr(x.shape, kernel.shape, strides, padding),
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
