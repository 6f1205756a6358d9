/**
 * Gradient configs for layer kernels: convolution, pooling, matmul, softmax
 * and the fused conv/matmul kernels. Backward passes run the tfjs kernels
 * `Conv2DBackpropInput`, `Conv2DBackpropFilter`, `MaxPoolGrad` and
 * `BatchMatMul`, so a backend's fast versions are used. Depthwise
 * convolutions and average pooling are in `gradients_conv.ts`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { RELU_GRAD } from "../kernels/custom_kernels.ts";
import type { NamedAttrMap } from "@tensorflow/tfjs-core";
import { at, defineGradient, unbroadcast } from "./gradient_util.ts";

function run(
  kernel: string,
  inputs: tf.NamedTensorMap,
  attrs: NamedAttrMap,
): tf.Tensor {
  return tf.engine().runKernel(kernel, inputs, attrs) as tf.Tensor;
}

function isOne(v: unknown): boolean {
  return Array.isArray(v) ? v.every((d) => d === 1) : v === 1 || v == null;
}

/**
 * Gradient through a fused activation, from the activation's output `y`:
 * every supported activation's derivative can be written in terms of `y`.
 * Shared with the fused depthwise convolution (gradients_conv.ts).
 */
export function throughActivation(
  dy: tf.Tensor,
  y: tf.Tensor,
  attrs: NamedAttrMap,
): tf.Tensor {
  const activation = (attrs.activation as string | undefined) ?? "linear";
  switch (activation) {
    case "linear":
      return dy;
    case "relu":
      // One pass where the backend has simdnet's kernel (the wasm pool).
      if (tf.getKernel(RELU_GRAD, tf.getBackend())) {
        return tf.engine().runKernel(RELU_GRAD, { dy, y }) as tf.Tensor;
      }
      return tf.mul(dy, tf.step(y));
    case "relu6":
      return tf.mul(
        dy,
        tf.cast(tf.logicalAnd(tf.greater(y, 0), tf.less(y, 6)), "float32"),
      );
    case "sigmoid":
      return tf.mul(dy, tf.mul(y, tf.sub(1, y)));
    case "elu":
      return tf.where(tf.greater(y, 0), dy, tf.mul(dy, tf.add(y, 1)));
    case "leakyrelu": {
      const alpha = (attrs.leakyreluAlpha as number | undefined) ?? 0.2;
      return tf.where(tf.greater(y, 0), dy, tf.mul(dy, alpha));
    }
    default:
      throw new Error(
        `No gradient for fused activation '${activation}': use linear, relu, ` +
          `relu6, sigmoid, elu or leakyrelu, or apply it as a separate op.`,
      );
  }
}

/** Gradients of `op(a) @ op(b)` with respect to `a` and `b`. */
function matMulGrads(
  dy: tf.Tensor,
  a: tf.Tensor,
  b: tf.Tensor,
  transposeA: boolean,
  transposeB: boolean,
): { da: () => tf.Tensor; db: () => tf.Tensor } {
  const mm = tf.matMul;
  let da: () => tf.Tensor;
  let db: () => tf.Tensor;
  if (!transposeA && !transposeB) {
    da = () => mm(dy, b, false, true);
    db = () => mm(a, dy, true, false);
  } else if (!transposeA && transposeB) {
    da = () => mm(dy, b, false, false);
    db = () => mm(dy, a, true, false);
  } else if (transposeA && !transposeB) {
    da = () => mm(b, dy, false, true);
    db = () => mm(a, dy, false, false);
  } else {
    da = () => mm(b, dy, true, true);
    db = () => mm(dy, a, true, true);
  }
  return {
    da: () => unbroadcast(da(), a.shape),
    db: () => unbroadcast(db(), b.shape),
  };
}

function convGrads(
  dy: tf.Tensor,
  x: tf.Tensor,
  filter: tf.Tensor,
  attrs: NamedAttrMap,
): { dx: () => tf.Tensor; dfilter: () => tf.Tensor } {
  if (!isOne(attrs.dilations)) {
    throw new Error(
      "No gradient for dilated Conv2D: train with dilations 1.",
    );
  }
  if (attrs.dataFormat === "NCHW") {
    throw new Error("No gradient for NCHW Conv2D: use NHWC.");
  }
  const common = {
    strides: attrs.strides,
    pad: attrs.pad,
    dataFormat: "NHWC",
    dimRoundingMode: attrs.dimRoundingMode,
  } as NamedAttrMap;
  return {
    dx: () =>
      run(tf.Conv2DBackpropInput, { dy: dy as tf.Tensor4D, filter }, {
        ...common,
        inputShape: x.shape,
      }),
    dfilter: () =>
      tf.getBackend() === "cpu"
        ? filterGradByConv(x, dy, filter.shape as Shape4, common)
        : run(tf.Conv2DBackpropFilter, { x, dy }, {
          ...common,
          filterShape: filter.shape,
        }),
  };
}

/** A 4-D shape: `[batch, height, width, channels]` or a filter's. */
export type Shape4 = [number, number, number, number];

/**
 * The filter gradient as a forward convolution with batch and channels
 * swapped: `dW[i, j, ci, co] = sum_{b,p,q} xpad[b, p*s + i, q*s + j, ci] *
 * dy[b, p, q, co]` is a conv of `x` viewed as `[ci, H, W, batch]` with `dy`
 * viewed as a `[oh, ow, batch, co]` filter dilated by the stride.
 *
 * Used on the `cpu` backend only: tfjs-backend-cpu's Conv2DBackpropFilter
 * (which tfjs' own Conv2D gradient calls) reads every element through a
 * TensorBuffer: 14 s against 0.2 s here for x and dy of [8, 32, 32, 32] and
 * a 3x3 filter. Other backends run the Conv2DBackpropFilter kernel.
 */
export function filterGradByConv(
  x: tf.Tensor,
  dy: tf.Tensor,
  filterShape: Shape4,
  attrs: NamedAttrMap,
): tf.Tensor {
  const [kh, kw, cin, cout] = filterShape;
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as Shape4,
    filterShape,
    attrs.strides as number | [number, number],
    1,
    attrs.pad as "same" | "valid",
    attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
  );
  const { top, bottom, left, right } = info.padInfo;
  const out = tf.conv2d(
    tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D,
    tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D,
    1,
    [[0, 0], [top, bottom], [left, right], [0, 0]],
    "NHWC",
    [info.strideHeight, info.strideWidth],
  );
  // With a stride, the last rows and columns may reach past the filter.
  const cropped = out.shape[1] === kh && out.shape[2] === kw
    ? out
    : tf.slice(out, [0, 0, 0, 0], [cin, kh, kw, cout]);
  return tf.transpose(cropped, [1, 2, 0, 3]);
}

/** Gradient of a 1-D bias added along the last axis. */
export function biasGrad(dz: tf.Tensor): tf.Tensor {
  return unbroadcast(dz, [dz.shape[dz.rank - 1] ?? 1]);
}

/** Registers the layer-kernel gradients; called by `registerGradients`. */
export function registerNnGradients(): void {
  registerConvMatMul();
  registerPoolSoftmax();
}

function registerConvMatMul(): void {
  // Ours: tfjs' runs the cpu Conv2DBackpropFilter kernel, 70x slower.
  defineGradient(tf.Conv2D, { inputs: ["x", "filter"] }, (dy, saved, attrs) => {
    const g = convGrads(dy, at(saved, 0), at(saved, 1), attrs);
    return { x: g.dx, filter: g.dfilter };
  });
  // tfjs has none: its fused ops take their gradient from a customGrad.
  defineGradient(
    tf.FusedConv2D,
    // The bias is optional, and the engine cannot save a missing input, so
    // it is not saved: its gradient assumes the usual 1-D bias.
    { inputs: ["x", "filter"], output: true },
    (dy, saved, attrs) => {
      const dz = throughActivation(dy, at(saved, 2), attrs);
      const g = convGrads(dz, at(saved, 0), at(saved, 1), attrs);
      return { x: g.dx, filter: g.dfilter, bias: () => biasGrad(dz) };
    },
  );
  defineGradient(tf.BatchMatMul, { inputs: ["a", "b"] }, (dy, saved, attrs) => {
    const g = matMulGrads(
      dy,
      at(saved, 0),
      at(saved, 1),
      attrs.transposeA as boolean,
      attrs.transposeB as boolean,
    );
    return { a: g.da, b: g.db };
  });
  // tfjs has none (customGrad), and ours runs simdnet's one-pass relu grad.
  defineGradient(
    tf._FusedMatMul,
    { inputs: ["a", "b"], output: true },
    (dy, saved, attrs) => {
      const dz = throughActivation(dy, at(saved, 2), attrs);
      const g = matMulGrads(
        dz,
        at(saved, 0),
        at(saved, 1),
        attrs.transposeA as boolean,
        attrs.transposeB as boolean,
      );
      return {
        a: g.da,
        b: g.db,
        bias: () => biasGrad(dz),
      };
    },
  );
}

function registerPoolSoftmax(): void {
  defineGradient(
    tf.MaxPool,
    { inputs: ["x"], output: true },
    (dy, saved, attrs) => ({
      x: () =>
        run(tf.MaxPoolGrad, {
          dy,
          input: at(saved, 0),
          output: at(saved, 1),
        }, {
          filterSize: attrs.filterSize,
          strides: attrs.strides,
          pad: attrs.pad,
          dimRoundingMode: attrs.dimRoundingMode,
        } as NamedAttrMap),
    }),
  );
  defineGradient(tf.Softmax, { output: true }, (dy, saved, attrs) => ({
    logits: () => {
      const y = at(saved, 0);
      const dim = attrs.dim as number;
      return tf.mul(y, tf.sub(dy, tf.sum(tf.mul(dy, y), dim, true)));
    },
  }));
  // No tfjs op runs this kernel today, but a backend or a future op may.
  defineGradient(tf.LogSoftmax, { output: true }, (dy, saved, attrs) => ({
    logits: () => {
      const softmax = tf.exp(at(saved, 0));
      const axis = attrs.axis as number;
      return tf.sub(dy, tf.mul(tf.sum(dy, axis, true), softmax));
    },
  }));
}
