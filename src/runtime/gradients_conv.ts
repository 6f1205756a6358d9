/**
 * Gradient configs for depthwise convolutions (`DepthwiseConv2dNative`,
 * `FusedDepthwiseConv2D`) and average pooling (`AvgPool`).
 *
 * Written in terms of tfjs kernel names: the depthwise gradients run
 * `DepthwiseConv2dNativeBackpropInput` and `...BackpropFilter`, which cpu
 * and webgpu register and simdnet's kernel table adds to wasm (which has
 * neither in tfjs-backend-wasm 4.22).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { NamedAttrMap } from "@tensorflow/tfjs-core";
import { at, defineGradient } from "./gradient_util.ts";
import { biasGrad, throughActivation } from "./gradients_nn.ts";

type Shape4 = [number, number, number, number];

function run(
  kernel: string,
  inputs: tf.NamedTensorMap,
  attrs: NamedAttrMap,
): tf.Tensor {
  return tf.engine().runKernel(kernel, inputs, attrs) as tf.Tensor;
}

function depthwiseInfo(
  xShape: Shape4,
  filterShape: Shape4,
  attrs: NamedAttrMap,
): tf.backend_util.Conv2DInfo {
  if (attrs.dataFormat === "NCHW") {
    throw new Error("No gradient for NCHW DepthwiseConv2D: use NHWC.");
  }
  return tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    attrs.strides as [number, number],
    (attrs.dilations ?? 1) as [number, number],
    attrs.pad as "same" | "valid",
    attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
    true,
  );
}

function depthwiseGrads(
  dy: tf.Tensor,
  x: tf.Tensor,
  filter: tf.Tensor,
  attrs: NamedAttrMap,
): { dx: () => tf.Tensor; dfilter: () => tf.Tensor } {
  const common = {
    strides: attrs.strides,
    pad: attrs.pad,
    dilations: attrs.dilations ?? [1, 1],
    dimRoundingMode: attrs.dimRoundingMode,
  } as NamedAttrMap;
  // Checks the layout before any kernel runs.
  depthwiseInfo(x.shape as Shape4, filter.shape as Shape4, attrs);
  return {
    dx: () =>
      run(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter }, {
        ...common,
        inputShape: x.shape,
      }),
    dfilter: () =>
      run(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, {
        ...common,
        filterShape: filter.shape,
      }),
  };
}

/**
 * How many input cells each window of a `same` average pool covers, as a
 * `[1, oh, ow, 1]` tensor: rows inside the input times columns inside it.
 */
function windowCounts(info: tf.backend_util.Conv2DInfo): tf.Tensor {
  const inside = (
    out: number,
    stride: number,
    pad: number,
    k: number,
    n: number,
  ) =>
    Array.from({ length: out }, (_, p) => {
      const start = p * stride - pad;
      return Math.min(start + k, n) - Math.max(start, 0);
    });
  const rows = inside(
    info.outHeight,
    info.strideHeight,
    info.padInfo.top,
    info.filterHeight,
    info.inHeight,
  );
  const cols = inside(
    info.outWidth,
    info.strideWidth,
    info.padInfo.left,
    info.filterWidth,
    info.inWidth,
  );
  const counts = new Float32Array(rows.length * cols.length);
  rows.forEach((r, p) =>
    cols.forEach((q, j) => (counts[p * cols.length + j] = r * q))
  );
  return tf.tensor4d(counts, [1, rows.length, cols.length, 1]);
}

/** Registers the depthwise and average-pooling gradients; called by `registerGradients`. */
export function registerConvGradients(): void {
  defineGradient(
    tf.DepthwiseConv2dNative,
    { inputs: ["x", "filter"] },
    (dy, saved, attrs) => {
      const g = depthwiseGrads(dy, at(saved, 0), at(saved, 1), attrs);
      return { x: g.dx, filter: g.dfilter };
    },
  );
  // tfjs has none: its fused ops take their gradient from a customGrad.
  defineGradient(
    tf.FusedDepthwiseConv2D,
    { inputs: ["x", "filter"], output: true },
    (dy, saved, attrs) => {
      const dz = throughActivation(dy, at(saved, 2), attrs);
      const g = depthwiseGrads(dz, at(saved, 0), at(saved, 1), attrs);
      return { x: g.dx, filter: g.dfilter, bias: () => biasGrad(dz) };
    },
  );
  // The AvgPoolGrad kernels of tfjs 4.22 (cpu, wasm, webgpu) divide every
  // window by its full size, but with 'same' padding the forward kernels
  // (and Keras) divide a border window by the cells it covers. Scaling dy
  // by size / covered first makes the kernel's result the true gradient.
  defineGradient(tf.AvgPool, { inputs: ["x"] }, (dy, saved, attrs) => ({
    x: () => {
      const x = at(saved, 0);
      const info = tf.backend_util.computePool2DInfo(
        x.shape as Shape4,
        attrs.filterSize as [number, number],
        attrs.strides as [number, number],
        1,
        attrs.pad as "same" | "valid",
        attrs.dimRoundingMode as "floor" | "round" | "ceil" | undefined,
      );
      const { top, bottom, left, right } = info.padInfo;
      const scaled = top + bottom + left + right === 0 ? dy : tf.div(
        tf.mul(dy, info.filterHeight * info.filterWidth),
        windowCounts(info),
      );
      return run(tf.AvgPoolGrad, { dy: scaled, input: x }, {
        filterSize: attrs.filterSize,
        strides: attrs.strides,
        pad: attrs.pad,
      } as NamedAttrMap);
    },
  }));
}
