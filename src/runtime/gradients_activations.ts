/**
 * Gradient configs for the activation and normalisation kernels that
 * Keras' activations and the BatchNormalization, ReLU and ZeroPadding2D
 * layers run: `Elu`, `Selu`, `Softplus`, `Erf`, simdnet's `SimdnetGelu`, `Select`,
 * `FusedBatchNorm`, and zero gradients for the comparison kernels that sit
 * on a path through `where`. (`Relu6`, `Sigmoid`, `Tanh`, `LeakyRelu`,
 * `Rsqrt`, `PadV2` and `ClipByValue` are in `gradients.ts`.)
 *
 * Each is written from the derivative, in tfjs ops, and checked against
 * finite differences and tfjs' own configs in tests/activations_test.ts.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { NamedAttrMap } from "@tensorflow/tfjs-core";
import { GELU, GELU_GRAD } from "../kernels/custom_kernels.ts";
import { at, defineGradient, unbroadcast } from "./gradient_util.ts";

// SELU's constants, as tfjs-core's selu kernels and Keras define them.
const SELU_SCALE = 1.0507009873554804934193349852946;
const SELU_ALPHA = 1.6732632423543772848170429916717;
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** Registers the configs; called by `registerGradients`. */
export function registerActivationGradients(): void {
  // elu'(x) = 1 for x > 0, else exp(x) = y + 1: from the output, one pass
  // fewer than tfjs' EluGrad kernel round trip on backends without it.
  defineGradient(tf.Elu, { output: true }, (dy, saved) => ({
    x: () => {
      const y = at(saved, 0);
      return tf.mul(dy, tf.add(tf.minimum(y, 0), 1));
    },
  }));
  defineGradient(tf.Selu, { inputs: ["x"] }, (dy, saved) => ({
    x: () => {
      const x = at(saved, 0);
      const neg = tf.mul(tf.exp(tf.minimum(x, 0)), SELU_SCALE * SELU_ALPHA);
      return tf.mul(
        dy,
        tf.where(tf.greater(x, 0), tf.fill(x.shape, SELU_SCALE), neg),
      );
    },
  }));
  // softplus'(x) = sigmoid(x).
  defineGradient(tf.Softplus, { inputs: ["x"] }, (dy, saved) => ({
    x: () => tf.mul(dy, tf.sigmoid(at(saved, 0))),
  }));
  // erf'(x) = 2 / sqrt(pi) * exp(-x^2).
  defineGradient(tf.Erf, { inputs: ["x"] }, (dy, saved) => ({
    x: () => {
      const x = at(saved, 0);
      return tf.mul(dy, tf.mul(tf.exp(tf.neg(tf.square(x))), TWO_OVER_SQRT_PI));
    },
  }));
  // simdnet's one-pass GELU exists only where its gradient kernel does.
  defineGradient(GELU, { inputs: ["x"] }, (dy, saved) => ({
    x: () =>
      tf.engine().runKernel(GELU_GRAD, { dy, x: at(saved, 0) }) as tf.Tensor,
  }));
  // where(c, t, e): the condition gets no gradient, like TensorFlow.
  defineGradient(tf.Select, { inputs: ["condition"] }, (dy, saved) => {
    const c = at(saved, 0);
    return {
      // The engine wants float32 gradients, also for a bool input.
      condition: () => tf.zeros(c.shape, "float32"),
      t: () => tf.mul(dy, tf.cast(c, dy.dtype)),
      e: () => tf.mul(dy, tf.cast(tf.logicalNot(c), dy.dtype)),
    };
  });
  // Comparisons are piecewise constant: zero gradient, so that a mask made
  // from a differentiable tensor can sit on the tape.
  for (
    const name of [
      tf.Greater,
      tf.GreaterEqual,
      tf.Less,
      tf.LessEqual,
      tf.Equal,
      tf.NotEqual,
    ]
  ) {
    defineGradient(name, { inputs: ["a", "b"] }, (_dy, saved) => ({
      a: () => tf.zerosLike(at(saved, 0)),
      b: () => tf.zerosLike(at(saved, 1)),
    }));
  }
  registerBatchNormGradient();
}

/**
 * `y = (x - mean) * scale / sqrt(variance + eps) + offset` with `mean`,
 * `variance`, `scale`, `offset` broadcast along the last axis. Inference
 * BatchNormalization runs it, also under the tape when a frozen layer sits
 * between trained ones, so every input gets its gradient.
 */
function registerBatchNormGradient(): void {
  defineGradient(
    tf.FusedBatchNorm,
    // simdnet's BatchNormalization always passes scale and offset (ones
    // and zeros without `scale`/`center`), so all four can be saved.
    { inputs: ["x", "mean", "variance", "scale"] },
    (dy, saved, attrs: NamedAttrMap) => {
      const x = at(saved, 0);
      const mean = at(saved, 1);
      const variance = at(saved, 2);
      const scale = at(saved, 3);
      const eps = (attrs.varianceEpsilon as number | undefined) ?? 0.001;
      const inv = () => tf.rsqrt(tf.add(variance, eps));
      const gain = () => tf.mul(inv(), scale);
      const down = (g: tf.Tensor, shape: readonly number[]) =>
        unbroadcast(g, shape);
      return {
        x: () => tf.mul(dy, gain()),
        mean: () => down(tf.neg(tf.mul(dy, gain())), mean.shape),
        variance: () => {
          // d/dv (v + eps)^-1/2 = -1/2 (v + eps)^-3/2
          const g = tf.mul(tf.mul(dy, tf.sub(x, mean)), tf.pow(inv(), 3));
          return down(tf.mul(tf.mul(g, scale), -0.5), variance.shape);
        },
        scale: () =>
          down(tf.mul(dy, tf.mul(tf.sub(x, mean), inv())), scale.shape),
        offset: () => down(dy, [dy.shape[dy.rank - 1] ?? 1]),
      };
    },
  );
}
