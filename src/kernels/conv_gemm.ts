/**
 * Convolutions as implicit GEMMs (wasm/assembly/kernels.ts, conv_pack.ts):
 * patches are gathered straight into packed panels, no im2col matrix. Any
 * filter size, stride and dilation; the forward pass and the filter
 * gradient (per-thread partials, then a reduction); the input gradients
 * are in `conv_input_grad.ts`. `conv2d.ts` picks these or
 * Winograd.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { HeapKernels } from "./wasm_kernels.ts";
import { type Backend, offset } from "./tfjs_heap.ts";
import { entry, paramBlock, paramStruct } from "./params.ts";
import type { KernelDecl } from "./decl.ts";
import { biasAct, gemmScratch } from "./matmul.ts";

/**
 * The 16-word geometry that starts the convolution blocks (class `Geom` of
 * wasm/assembly/conv_pack.ts): patch row r = (b, ry, rx) reads image pixel
 * pos = r * stride + k * dil - pad, where pos is a multiple of `up`.
 */
export const GEOM = paramStruct("Geom", {
  /** Images. */
  batch: "i32",
  /** The image patches are gathered from. */
  imgH: "i32",
  imgW: "i32",
  imgC: "i32",
  /** The patch grid (GEMM rows = batch * rowsH * rowsW). */
  rowsH: "i32",
  rowsW: "i32",
  kh: "i32",
  kw: "i32",
  strideH: "i32",
  strideW: "i32",
  dilH: "i32",
  dilW: "i32",
  padT: "i32",
  padL: "i32",
});

/** out[rows, N] = patches(img)[rows, K] · w[K, N]. */
export const CONV_GEMM = entry(
  "conv_gemm",
  paramBlock("ConvGemm", {
    ...GEOM.fields,
    img: "ptr",
    w: "ptr",
    out: "ptr",
    N: "i32",
    scratch: "ptr",
    scratchStride: "i32",
  }),
);

/** out = act(conv2d(img, w) + bias) computed tap by tap (few taps). */
export const CONV_DIRECT = entry(
  "conv_direct",
  paramBlock("ConvDirect", {
    ...GEOM.fields,
    img: "ptr",
    w: "ptr",
    /** 0 = no bias. */
    bias: "ptr",
    out: "ptr",
    N: "i32",
    /** 0 linear, 1 relu. */
    act: "i32",
    scratch: "ptr",
    scratchStride: "i32",
  }),
);

const FILTER_GRAD = paramBlock("ConvFilterGrad", {
  ...GEOM.fields,
  x: "ptr",
  dy: "ptr",
  partials: "ptr",
  OC: "i32",
  scratch: "ptr",
  scratchStride: "i32",
  dW: "ptr",
  /** Partials to add up (the threads of phase 1). */
  parts: "i32",
});

/** Filter gradient, phase 1: per-thread partial dWᵀ = dyᵀ · patches(x). */
export const CONV_FILTER_GRAD = entry("conv_filter_grad", FILTER_GRAD);
/** Filter gradient, phase 2: dW = Σ partials, on the same block. */
export const CONV_FILTER_REDUCE = entry("conv_filter_reduce", FILTER_GRAD);

type Geom = { [K in keyof typeof GEOM.fields]: number };

// The geometry of a forward convolution: patches of x, one per output pixel.
function forwardGeom(info: tf.backend_util.Conv2DInfo): Geom {
  return {
    batch: info.batchSize,
    imgH: info.inHeight,
    imgW: info.inWidth,
    imgC: info.inChannels,
    rowsH: info.outHeight,
    rowsW: info.outWidth,
    kh: info.filterHeight,
    kw: info.filterWidth,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    dilH: info.dilationHeight,
    dilW: info.dilationWidth,
    padT: info.padInfo.top,
    padL: info.padInfo.left,
  };
}

/**
 * out = act(conv2d(x, filter) + bias), act linear or relu, for the
 * convolutions Winograd does not take: tap by tap when there are few taps
 * (`conv_direct`), else as an implicit GEMM with the bias and relu after.
 */
export function forwardConv2D(
  k: HeapKernels,
  b: Backend,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias: tf.TensorInfo | null,
  relu: boolean,
  info: tf.backend_util.Conv2DInfo,
  out: tf.TensorInfo,
): void {
  if (directFits(info)) directConv2D(k, b, x, filter, bias, relu, info, out);
  else gemmConv2D(k, b, x, filter, bias, relu, info, out);
}

/** The implicit GEMM, then the bias and relu in a second pass. */
function gemmConv2D(
  k: HeapKernels,
  b: Backend,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias: tf.TensorInfo | null,
  relu: boolean,
  info: tf.backend_util.Conv2DInfo,
  out: tf.TensorInfo,
): void {
  const { batchSize, outHeight, outWidth, outChannels } = info;
  const [scratch, scratchStride] = gemmScratch(k, Math.min(outChannels, 512));
  k.run(CONV_GEMM, {
    ...forwardGeom(info),
    img: offset(b, x),
    w: offset(b, filter),
    out: offset(b, out),
    N: outChannels,
    scratch,
    scratchStride,
  });
  biasAct(k, b, out, batchSize * outHeight * outWidth, outChannels, bias, relu);
}

// Taps (kh * kw * input channels) up to which conv_direct takes a layer:
// the implicit GEMM's reduction is then too short to repay its packing.
// Batch 512, medians of alternated runs, EPYC AVX-512, GEMM -> direct:
// 32x32x3 2x2 -> 24 (12 taps, the stem) 1 thread 31.0 -> 11.4 ms, 2
// threads 15.8 -> 5.9; 3x3 stride 2 -> 32 (27 taps) 2 threads 9.0 -> 5.4;
// 16x16x16 1x1 -> 32 (16 taps) 3.3 -> 1.9. Larger reductions not measured.
const DIRECT_TAPS = 32;

/**
 * Whether `directConv2D` takes this convolution forward: few taps, output
 * channels a multiple of 8 (the fast network's whitening stem). Layers
 * Winograd fits stay on Winograd (see conv2d.ts).
 */
export function directFits(info: tf.backend_util.Conv2DInfo): boolean {
  return info.outChannels % 8 === 0 &&
    info.filterHeight * info.filterWidth * info.inChannels <= DIRECT_TAPS;
}

/** out = act(conv2d(x, filter) + bias) tap by tap, bias and relu fused. */
function directConv2D(
  k: HeapKernels,
  b: Backend,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias: tf.TensorInfo | null,
  relu: boolean,
  info: tf.backend_util.Conv2DInfo,
  out: tf.TensorInfo,
): void {
  // Sized by the module, whose strip layout it is.
  const [scratch, scratchStride] = k.scratch(
    k.pool.query(
      "conv_direct_scratch",
      info.filterHeight,
      info.filterWidth,
      info.inChannels,
      info.outWidth,
      info.strideWidth,
      info.dilationWidth,
      info.outChannels,
    ),
  );
  k.run(CONV_DIRECT, {
    ...forwardGeom(info),
    img: offset(b, x),
    w: offset(b, filter),
    bias: bias ? offset(b, bias) : 0,
    out: offset(b, out),
    N: info.outChannels,
    act: relu ? 1 : 0,
    scratch,
    scratchStride,
  });
}

/** dW = patches(x)ᵀ · dy, reduced over pixels in per-thread partials. */
export function gemmFilterGrad(
  k: HeapKernels,
  b: Backend,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  out: tf.TensorInfo,
): void {
  const { inChannels, outChannels } = info;
  const K = info.filterHeight * info.filterWidth * inChannels;
  const [scratch, scratchStride] = gemmScratch(k, K);
  const partials = k.extra(k.threads * outChannels * K * 4);
  const params = {
    ...forwardGeom(info),
    x: offset(b, x),
    dy: offset(b, dy),
    partials,
    OC: outChannels,
    scratch,
    scratchStride,
    dW: offset(b, out),
    parts: k.threads,
  };
  k.run(CONV_FILTER_GRAD, params);
  k.run(CONV_FILTER_REDUCE, params);
}

/** Entry points only: the tfjs kernels are declared in `conv2d.ts`. */
export const convGemmKernels: KernelDecl = {
  family: "conv_gemm",
  backend: "wasm",
  kernels: {},
  entries: [
    CONV_GEMM,
    CONV_DIRECT,
    CONV_FILTER_GRAD,
    CONV_FILTER_REDUCE,
  ],
  queries: ["conv_direct_scratch"],
  structs: [GEOM],
};
