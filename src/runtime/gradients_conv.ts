/**
 * Gradient configs for depthwise convolutions (`DepthwiseConv2dNative`,
 * `FusedDepthwiseConv2D`) and average pooling (`AvgPool`).
 *
 * Written in terms of tfjs kernel names: the depthwise gradients run
 * `DepthwiseConv2dNativeBackpropInput` and `...BackpropFilter` wherever the
 * active backend registers them (cpu and webgpu do, and so will a fast
 * wasm kernel), and otherwise (tfjs-backend-wasm 4.22 has neither) the
 * same sums from forward kernels every backend has: a depthwise
 * convolution of the zero-stuffed output gradient with the flipped filter,
 * and one strided slice, product and sum per filter tap.
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

function hasKernel(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
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

/**
 * `dx` from ops: `x[r]` feeds output `p` through tap `i` when
 * `r + padTop = p * stride + i * dilation`, so `dx` is `dy` with
 * `stride - 1` zeros between rows (and columns), padded, correlated with
 * the flipped filter, summed over each input channel's multiplier outputs.
 */
function inputGradByOps(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  info: tf.backend_util.Conv2DInfo,
): tf.Tensor {
  const { batchSize: b, inHeight: h, inWidth: w, inChannels: c } = info;
  const { strideHeight: sh, strideWidth: sw } = info;
  const { outHeight: oh, outWidth: ow } = info;
  const [kh, kw, , m] = filter.shape;
  let z: tf.Tensor4D = dy;
  if (sh > 1 || sw > 1) {
    const spread = tf.pad(tf.reshape(dy, [b, oh, 1, ow, 1, c * m]), [
      [0, 0],
      [0, 0],
      [0, sh - 1],
      [0, 0],
      [0, sw - 1],
      [0, 0],
    ]);
    z = tf.reshape(spread, [b, oh * sh, ow * sw, c * m]);
  }
  // Rows: (kh - 1) * dilation - padTop zeros before, and enough after (or
  // rows cut) for an output of exactly h rows; likewise for columns.
  const fit = (size: number, eff: number, before: number, have: number) => {
    const after = size + eff - 1 - before - have;
    return {
      before,
      after: Math.max(after, 0),
      keep: have + Math.min(after, 0),
    };
  };
  const rows = fit(
    h,
    info.effectiveFilterHeight,
    info.effectiveFilterHeight - 1 - info.padInfo.top,
    z.shape[1],
  );
  const cols = fit(
    w,
    info.effectiveFilterWidth,
    info.effectiveFilterWidth - 1 - info.padInfo.left,
    z.shape[2],
  );
  const cut = tf.slice(z, [0, 0, 0, 0], [b, rows.keep, cols.keep, c * m]);
  const padded = tf.pad(cut, [
    [0, 0],
    [rows.before, rows.after],
    [cols.before, cols.after],
    [0, 0],
  ]);
  const flipped = tf.reshape(tf.reverse(filter, [0, 1]), [kh, kw, c * m, 1]);
  const out = tf.depthwiseConv2d(
    padded as tf.Tensor4D,
    flipped as tf.Tensor4D,
    1,
    "valid",
    "NHWC",
    [info.dilationHeight, info.dilationWidth],
  );
  return tf.sum(tf.reshape(out, [b, h, w, c, m]), 4);
}

/**
 * `dfilter` from ops: for each tap `(i, j)`, the input cells it read (a
 * strided slice of the padded input) times `dy`, summed over the batch and
 * the output positions.
 */
function filterGradByOps(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: Shape4,
  info: tf.backend_util.Conv2DInfo,
): tf.Tensor {
  const [kh, kw, c, m] = filterShape;
  const { strideHeight: sh, strideWidth: sw } = info;
  const { dilationHeight: dh, dilationWidth: dw } = info;
  const { batchSize: b, outHeight: oh, outWidth: ow } = info;
  const { top, bottom, left, right } = info.padInfo;
  const xpad = tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]]);
  // With one filter per channel the product needs no broadcast, and with
  // stride 1 a plain slice reads the cells: 164 ms -> 48 ms for x of
  // [32, 16, 16, 64] and a 3x3 filter on wasm, 2 threads.
  const g = m === 1 ? dy : tf.reshape(dy, [b, oh, ow, c, m]);
  const taps: tf.Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const read = sh === 1 && sw === 1
        ? tf.slice(xpad, [0, i * dh, j * dw, 0], [b, oh, ow, c])
        : tf.stridedSlice(
          xpad,
          [0, i * dh, j * dw, 0],
          [b, i * dh + (oh - 1) * sh + 1, j * dw + (ow - 1) * sw + 1, c],
          [1, sh, sw, 1],
        );
      const product = m === 1
        ? tf.mul(read, g)
        : tf.mul(tf.expandDims(read, 4), g);
      taps.push(tf.sum(product, [0, 1, 2]));
    }
  }
  return tf.reshape(tf.stack(taps), [kh, kw, c, m]);
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
  const info = () =>
    depthwiseInfo(x.shape as Shape4, filter.shape as Shape4, attrs);
  return {
    dx: () =>
      hasKernel(tf.DepthwiseConv2dNativeBackpropInput)
        ? run(tf.DepthwiseConv2dNativeBackpropInput, { dy, filter }, {
          ...common,
          inputShape: x.shape,
        })
        : inputGradByOps(dy as tf.Tensor4D, filter as tf.Tensor4D, info()),
    dfilter: () =>
      hasKernel(tf.DepthwiseConv2dNativeBackpropFilter)
        ? run(tf.DepthwiseConv2dNativeBackpropFilter, { x, dy }, {
          ...common,
          filterShape: filter.shape,
        })
        : filterGradByOps(
          x as tf.Tensor4D,
          dy as tf.Tensor4D,
          filter.shape as Shape4,
          info(),
        ),
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
