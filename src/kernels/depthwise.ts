/**
 * Depthwise convolution and both its gradients (wasm/assembly/depthwise.ts),
 * threaded, NHWC, float32, any kernel size, strides, dilation, padding and
 * channel multiplier. tfjs-wasm has only the forward pass (XNNPACK, one
 * thread under Deno): `DepthwiseConv2dNativeBackpropInput` and
 * `DepthwiseConv2dNativeBackpropFilter` are missing, so without these a
 * DepthwiseConv2D or SeparableConv2D layer could not train on `wasm`. The
 * forward pass stays on XNNPACK (faster per thread) except where XNNPACK
 * is wrong: a stride larger than the window.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { HeapKernels } from "./wasm_kernels.ts";
import { type Backend, offset } from "./tfjs_heap.ts";
import { entry, paramBlock } from "./params.ts";
import {
  fallback,
  type KernelArgs,
  type KernelDecl,
  requireFloat,
  requireNhwc,
} from "./decl.ts";

const BLOCK = paramBlock("Depthwise", {
  B: "i32",
  H: "i32",
  W: "i32",
  C: "i32",
  /** Channel multiplier: the filter is [fh, fw, C, M], the output C * M. */
  M: "i32",
  OH: "i32",
  OW: "i32",
  fh: "i32",
  fw: "i32",
  sh: "i32",
  sw: "i32",
  dh: "i32",
  dw: "i32",
  padT: "i32",
  padL: "i32",
  x: "ptr",
  f: "ptr",
  /** The output, or the output gradient in the backward passes. */
  y: "ptr",
  dx: "ptr",
  df: "ptr",
  partials: "ptr",
  /** Partials to add up (the threads of the filter gradient's phase 1). */
  parts: "i32",
});

/** y = depthwise(x, f). */
export const DEPTHWISE_CONV = entry("depthwise_conv", BLOCK);
/** dx from dy (in `y`) and f. */
export const DEPTHWISE_INPUT_GRAD = entry("depthwise_input_grad", BLOCK);
/** Filter gradient, phase 1: per-thread partials from x and dy (in `y`). */
export const DEPTHWISE_FILTER_GRAD = entry("depthwise_filter_grad", BLOCK);
/** Filter gradient, phase 2: df = Σ partials. */
export const DEPTHWISE_FILTER_REDUCE = entry("depthwise_filter_reduce", BLOCK);

type Shape4 = [number, number, number, number];

interface DepthwiseAttrs {
  strides: [number, number] | number;
  pad: "valid" | "same" | number | tf.backend_util.ExplicitPadding;
  dilations: [number, number] | number;
  dimRoundingMode?: "floor" | "round" | "ceil";
  dataFormat?: "NHWC" | "NCHW";
}

function geometry(
  xShape: Shape4,
  filterShape: Shape4,
  a: DepthwiseAttrs,
) {
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    a.strides,
    a.dilations ?? 1,
    a.pad,
    a.dimRoundingMode,
    true,
  );
  return {
    info,
    values: {
      B: info.batchSize,
      H: info.inHeight,
      W: info.inWidth,
      C: info.inChannels,
      M: filterShape[3],
      OH: info.outHeight,
      OW: info.outWidth,
      fh: info.filterHeight,
      fw: info.filterWidth,
      sh: info.strideHeight,
      sw: info.strideWidth,
      dh: info.dilationHeight,
      dw: info.dilationWidth,
      padT: info.padInfo.top,
      padL: info.padInfo.left,
    },
  };
}

const NO_PTRS = { x: 0, f: 0, y: 0, dx: 0, df: 0, partials: 0, parts: 0 };

function forwardKernel(
  args: KernelArgs,
  k: HeapKernels,
  stock: tf.KernelFunc | null,
) {
  const { inputs, backend, attrs } = args;
  const { x, filter } = inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
  const a = attrs as unknown as DepthwiseAttrs;
  if (
    x.dtype !== "float32" || filter.dtype !== "float32" ||
    (a.dataFormat !== undefined && a.dataFormat !== "NHWC")
  ) {
    return fallback(
      stock,
      "DepthwiseConv2dNative",
      "only float32 NHWC is handled",
    )(args);
  }
  const { info, values } = geometry(
    x.shape as Shape4,
    filter.shape as Shape4,
    a,
  );
  // tfjs' XNNPACK kernel is 2.2x faster per thread than this direct loop
  // (5.8 against 12.9 ms at 512x15x15x32, 3x3), but wrong when a stride
  // exceeds the window (e.g. a 1x5 filter with strides [3, 1], "same").
  if (
    stock && info.strideHeight <= info.filterHeight &&
    info.strideWidth <= info.filterWidth
  ) {
    return stock(args);
  }
  const b = backend as Backend;
  const out = b.makeOutput(
    [info.batchSize, info.outHeight, info.outWidth, info.outChannels],
    "float32",
  );
  if (tf.util.sizeFromShape(out.shape) === 0) return out;
  k.run(DEPTHWISE_CONV, {
    ...values,
    ...NO_PTRS,
    x: offset(b, x),
    f: offset(b, filter),
    y: offset(b, out),
  });
  return out;
}

function inputGradKernel(
  { inputs, backend, attrs }: KernelArgs,
  k: HeapKernels,
) {
  const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
  const a = attrs as unknown as DepthwiseAttrs & { inputShape: Shape4 };
  requireFloat("DepthwiseConv2dNativeBackpropInput", dy, filter);
  requireNhwc("DepthwiseConv2dNativeBackpropInput", a.dataFormat);
  const { values } = geometry(a.inputShape, filter.shape as Shape4, a);
  const b = backend as Backend;
  const out = b.makeOutput(a.inputShape.slice(), "float32");
  if (tf.util.sizeFromShape(a.inputShape) === 0) return out;
  k.run(DEPTHWISE_INPUT_GRAD, {
    ...values,
    ...NO_PTRS,
    f: offset(b, filter),
    y: offset(b, dy),
    dx: offset(b, out),
  });
  return out;
}

function filterGradKernel(
  { inputs, backend, attrs }: KernelArgs,
  k: HeapKernels,
) {
  const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
  const a = attrs as unknown as DepthwiseAttrs & { filterShape: Shape4 };
  requireFloat("DepthwiseConv2dNativeBackpropFilter", x, dy);
  requireNhwc("DepthwiseConv2dNativeBackpropFilter", a.dataFormat);
  const { values } = geometry(x.shape as Shape4, a.filterShape, a);
  const b = backend as Backend;
  const out = b.makeOutput(a.filterShape.slice(), "float32");
  const size = tf.util.sizeFromShape(a.filterShape);
  if (size === 0) return out;
  const params = {
    ...values,
    ...NO_PTRS,
    x: offset(b, x),
    y: offset(b, dy),
    df: offset(b, out),
    partials: k.partials(size * 4),
    parts: k.threads,
  };
  k.run(DEPTHWISE_FILTER_GRAD, params);
  k.run(DEPTHWISE_FILTER_REDUCE, params);
  return out;
}

/** Depthwise convolution, forward and both gradients. */
export const depthwiseKernels: KernelDecl = {
  family: "depthwise",
  backend: "wasm",
  kernels: {
    [tf.DepthwiseConv2dNative]: forwardKernel,
    [tf.DepthwiseConv2dNativeBackpropInput]: inputGradKernel,
    [tf.DepthwiseConv2dNativeBackpropFilter]: filterGradKernel,
  },
  entries: [
    DEPTHWISE_CONV,
    DEPTHWISE_INPUT_GRAD,
    DEPTHWISE_FILTER_GRAD,
    DEPTHWISE_FILTER_REDUCE,
  ],
};
