/**
 * 3x3 stride-1 convolutions as Winograd F(4x4, 3x3)
 * (wasm/assembly/winograd*.ts): the forward pass, the input gradient (a
 * forward pass with the flipped, transposed filter) and the filter gradient
 * (the adjoint transform, per-thread partials, then a reduction).
 * Transformed filters are cached by tensor. `conv2d.ts` picks these or the
 * implicit GEMMs.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { HeapKernels } from "./wasm_kernels.ts";
import { type Backend, offset } from "./tfjs_heap.ts";
import { entry, paramBlock } from "./params.ts";
import type { KernelDecl } from "./decl.ts";

/** Filter transform U = G g Gᵀ into packed panels; flip 1 for the input gradient. */
export const WINO_FILTER = entry(
  "wino_filter",
  paramBlock("WinoFilter", {
    K: "i32",
    N: "i32",
    w: "ptr",
    u: "ptr",
    flip: "i32",
  }),
);

/** out = act(conv3x3(x) + bias) through the transformed filter u. */
export const WINO_CONV = entry(
  "wino_conv",
  paramBlock("WinoConv", {
    B: "i32",
    H: "i32",
    W: "i32",
    K: "i32",
    OH: "i32",
    OW: "i32",
    padT: "i32",
    padL: "i32",
    x: "ptr",
    u: "ptr",
    out: "ptr",
    N: "i32",
    /** 0: none. */
    bias: "ptr",
    /** 0 linear, 1 relu. */
    act: "i32",
    scratch: "ptr",
    scratchStride: "i32",
  }),
);

const FILTER_GRAD = paramBlock("WinoFilterGrad", {
  B: "i32",
  H: "i32",
  W: "i32",
  K: "i32",
  OH: "i32",
  OW: "i32",
  padT: "i32",
  padL: "i32",
  x: "ptr",
  dy: "ptr",
  partials: "ptr",
  N: "i32",
  scratch: "ptr",
  scratchStride: "i32",
  dW: "ptr",
  /** Partials to add up (the threads of phase 1). */
  parts: "i32",
});

/** Filter gradient, phase 1: per-thread partial dU. */
export const WINO_FILTER_GRAD = entry("wino_filter_grad", FILTER_GRAD);
/** Filter gradient, phase 2: dW = Gᵀ (Σ partials) G, on the same block. */
export const WINO_FILTER_GRAD_REDUCE = entry(
  "wino_filter_grad_reduce",
  FILTER_GRAD,
);

/**
 * Whether a convolution and its filter gradient run as Winograd: 3x3,
 * stride 1, no dilation, and output channels that fill whole vectors. The
 * input gradient swaps the roles of the channels (see `conv2d.ts`).
 */
export function winogradFits(info: tf.backend_util.Conv2DInfo): boolean {
  return info.filterHeight === 3 && info.filterWidth === 3 &&
    info.strideHeight === 1 && info.strideWidth === 1 &&
    info.dilationHeight === 1 && info.dilationWidth === 1 &&
    info.outChannels % 4 === 0;
}

/** One Winograd convolution: x [batch, inH, inW, inC] to out [batch, outH, outW, outC]. */
export interface WinogradCall {
  x: tf.TensorInfo;
  w: tf.TensorInfo;
  out: tf.TensorInfo;
  /** Correlate with w flipped and transposed (the input gradient). */
  flip: boolean;
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  padT: number;
  padL: number;
  bias: tf.TensorInfo | null;
  relu: boolean;
}

/**
 * Transforms the filter into packed panels (once per filter tensor), then
 * runs the tiled transform, GEMM and inverse transform.
 */
export function winograd(k: HeapKernels, b: Backend, c: WinogradCall): void {
  const [u, fresh] = k.derived(
    c.w.dataId,
    c.flip ? 1 : 0,
    k.pool.query("wino_filter_bytes", c.inC, c.outC),
  );
  if (fresh) {
    k.run(WINO_FILTER, {
      K: c.inC,
      N: c.outC,
      w: offset(b, c.w),
      u,
      flip: c.flip ? 1 : 0,
    });
  }
  // Sizes come from the module: a block size that disagreed with the
  // wasm's would overrun the scratch silently.
  const [scratch, scratchStride] = k.scratch(
    k.pool.query("wino_conv_scratch", c.inC, c.outC),
  );
  k.run(WINO_CONV, {
    B: c.batch,
    H: c.inH,
    W: c.inW,
    K: c.inC,
    OH: c.outH,
    OW: c.outW,
    padT: c.padT,
    padL: c.padL,
    x: offset(b, c.x),
    u,
    out: offset(b, c.out),
    N: c.outC,
    bias: c.bias ? offset(b, c.bias) : 0,
    act: c.relu ? 1 : 0,
    scratch,
    scratchStride,
  });
}

/** The filter gradient: the adjoint of the forward transform. */
export function winogradFilterGrad(
  k: HeapKernels,
  b: Backend,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  out: tf.TensorInfo,
): void {
  const { inChannels, outChannels } = info;
  const [scratch, scratchStride] = k.scratch(
    k.pool.query("wino_grad_scratch", inChannels, outChannels),
  );
  const partials = k.partials(
    k.pool.query("wino_grad_partial", inChannels, outChannels),
  );
  const params = {
    B: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    K: inChannels,
    OH: info.outHeight,
    OW: info.outWidth,
    padT: info.padInfo.top,
    padL: info.padInfo.left,
    x: offset(b, x),
    dy: offset(b, dy),
    partials,
    N: outChannels,
    scratch,
    scratchStride,
    dW: offset(b, out),
    parts: k.threads,
  };
  k.run(WINO_FILTER_GRAD, params);
  k.run(WINO_FILTER_GRAD_REDUCE, params);
}

/** Entry points only: the tfjs kernels are declared in `conv2d.ts`. */
export const convWinogradKernels: KernelDecl = {
  family: "conv_winograd",
  backend: "wasm",
  kernels: {},
  entries: [
    WINO_FILTER,
    WINO_CONV,
    WINO_FILTER_GRAD,
    WINO_FILTER_GRAD_REDUCE,
  ],
  queries: [
    "wino_filter_bytes",
    "wino_conv_scratch",
    "wino_grad_scratch",
    "wino_grad_partial",
    // Where HeapKernels keeps the counter wino_conv claims its tiles from.
    "work_counter_offset",
  ],
};
