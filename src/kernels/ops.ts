/**
 * simdnet's WASM kernels as tfjs kernel bodies: each takes the heap kernels,
 * the tfjs wasm backend and tensor infos, and returns a new tensor info.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { DropoutMaskAttrs, FusedAdamAttrs } from "./custom_kernels.ts";
import { gemmScratchBytes, type HeapKernels } from "./wasm_kernels.ts";

/** The tfjs wasm backend, as far as these kernels use it. */
export type Backend = tf.KernelBackend & {
  dataIdMap: { get(id: tf.DataId): { memoryOffset: number } };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
};

const offset = (b: Backend, t: tf.TensorInfo): number =>
  b.dataIdMap.get(t.dataId).memoryOffset;

export function requireFloat(kernel: string, ...ts: tf.TensorInfo[]): void {
  for (const t of ts) {
    if (t.dtype !== "float32") {
      throw new Error(
        `simdnet ${kernel}: expected float32 tensors, got ${t.dtype}`,
      );
    }
  }
}

export function requireNhwc(kernel: string, dataFormat: unknown): void {
  if (dataFormat !== undefined && dataFormat !== "NHWC") {
    throw new Error(
      `simdnet ${kernel}: only NHWC is supported, got ${dataFormat}`,
    );
  }
}

// The 16-word geometry block of wasm/assembly/conv_pack.ts.
function geom(g: {
  batch: number;
  imgH: number;
  imgW: number;
  imgC: number;
  rowsH: number;
  rowsW: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  dilH: number;
  dilW: number;
  padT: number;
  padL: number;
  upH: number;
  upW: number;
}): number[] {
  return [
    g.batch,
    g.imgH,
    g.imgW,
    g.imgC,
    g.rowsH,
    g.rowsW,
    g.kh,
    g.kw,
    g.strideH,
    g.strideW,
    g.dilH,
    g.dilW,
    g.padT,
    g.padL,
    g.upH,
    g.upW,
  ];
}

// The geometry of a forward convolution: patches of x, one per output pixel.
function forwardGeom(info: tf.backend_util.Conv2DInfo): number[] {
  return geom({
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
    upH: 1,
    upW: 1,
  });
}

/** dW = patches(x)ᵀ · dy, reduced over pixels in per-thread partials. */
export function conv2DBackpropFilter(
  k: HeapKernels,
  b: Backend,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const { inChannels, outChannels } = info;
  const K = info.filterHeight * info.filterWidth * inChannels;
  const out = b.makeOutput([
    info.filterHeight,
    info.filterWidth,
    inChannels,
    outChannels,
  ], "float32");
  if (winogradFits(info)) {
    // The adjoint of the Winograd forward pass (wasm/assembly/winograd_grad.ts).
    const np = Math.ceil(outChannels / 8) * 8;
    const kp = Math.ceil(inChannels / 4) * 4;
    const [scratch, stride] = k.scratch(winogradScratch(16, kp, np));
    const partials = k.extra(k.threads * 36 * kp * np * 4);
    const words = [
      info.batchSize,
      info.inHeight,
      info.inWidth,
      inChannels,
      info.outHeight,
      info.outWidth,
      info.padInfo.top,
      info.padInfo.left,
      offset(b, x),
      offset(b, dy),
      partials,
      outChannels,
      scratch,
      stride,
      offset(b, out),
      k.threads,
    ];
    k.run("wino_filter_grad", words);
    k.run("wino_filter_grad_reduce", words);
    return out;
  }
  const [scratch, stride] = k.scratch(gemmScratchBytes(K));
  const partials = k.extra(k.threads * outChannels * K * 4);
  const words = [
    ...forwardGeom(info),
    offset(b, x),
    offset(b, dy),
    partials,
    outChannels,
    scratch,
    stride,
    offset(b, out),
    k.threads,
  ];
  k.run("conv_filter_grad", words);
  k.run("conv_filter_reduce", words);
  return out;
}

/** dx = patches(dy seen through zero insertion) · flipped filter. */
export function conv2DBackpropInput(
  k: HeapKernels,
  b: Backend,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const {
    batchSize,
    inHeight,
    inWidth,
    inChannels,
    outHeight,
    outWidth,
    outChannels,
  } = info;
  const kh = info.filterHeight, kw = info.filterWidth;
  if (info.dilationHeight !== 1 || info.dilationWidth !== 1) {
    throw new Error(
      "simdnet Conv2DBackpropInput: dilation must be 1 (as in tfjs)",
    );
  }
  const out = b.makeOutput(
    [batchSize, inHeight, inWidth, inChannels],
    "float32",
  );
  if (winogradFits(info) && inChannels % 4 === 0) {
    // The input gradient of a stride-1 3x3 convolution is itself one: dy
    // correlated with the flipped, transposed filter.
    winograd(k, b, {
      x: dy,
      w: filter,
      out,
      flip: true,
      batch: batchSize,
      inH: outHeight,
      inW: outWidth,
      inC: outChannels,
      outH: inHeight,
      outW: inWidth,
      outC: inChannels,
      padT: 2 - info.padInfo.top,
      padL: 2 - info.padInfo.left,
      bias: null,
      relu: false,
    });
    return out;
  }
  const wflip = k.extra(kh * kw * inChannels * outChannels * 4);
  k.run("flip_filter", [
    kh,
    kw,
    inChannels,
    outChannels,
    offset(b, filter),
    wflip,
  ]);
  const [scratch, stride] = k.scratch(
    gemmScratchBytes(Math.min(inChannels, 512)),
  );
  k.run("conv_gemm", [
    ...geom({
      batch: batchSize,
      imgH: outHeight,
      imgW: outWidth,
      imgC: outChannels,
      rowsH: inHeight,
      rowsW: inWidth,
      kh,
      kw,
      strideH: 1,
      strideW: 1,
      dilH: 1,
      dilW: 1,
      padT: kh - 1 - info.padInfo.top,
      padL: kw - 1 - info.padInfo.left,
      upH: info.strideHeight,
      upW: info.strideWidth,
    }),
    offset(b, dy),
    wflip,
    offset(b, out),
    inChannels,
    scratch,
    stride,
  ]);
  return out;
}

/** out = op(a) · op(b) over broadcast batches. */
export function batchMatMul(
  k: HeapKernels,
  b: Backend,
  a: tf.TensorInfo,
  bt: tf.TensorInfo,
  transposeA: boolean,
  transposeB: boolean,
): tf.TensorInfo {
  const ra = a.shape.length, rb = bt.shape.length;
  const M = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const K = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const K2 = transposeB ? bt.shape[rb - 1]! : bt.shape[rb - 2]!;
  const N = transposeB ? bt.shape[rb - 2]! : bt.shape[rb - 1]!;
  if (K !== K2) {
    throw new Error(
      `simdnet BatchMatMul: inner dimensions ${K} and ${K2} of shapes [${a.shape}] and [${bt.shape}] differ`,
    );
  }
  const batchA = tf.util.sizeFromShape(a.shape.slice(0, -2));
  const batchB = tf.util.sizeFromShape(bt.shape.slice(0, -2));
  const outBatchShape = tf.broadcast_util.assertAndGetBroadcastShape(
    a.shape.slice(0, -2),
    bt.shape.slice(0, -2),
  );
  const batch = tf.util.sizeFromShape(outBatchShape);
  if (
    (batchA !== batch && batchA !== 1) || (batchB !== batch && batchB !== 1)
  ) {
    throw new Error(
      `simdnet BatchMatMul: cannot broadcast batch dims of [${a.shape}] and [${bt.shape}]`,
    );
  }
  const out = b.makeOutput([...outBatchShape, M, N], "float32");
  const [scratch, stride] = k.scratch(gemmScratchBytes(Math.min(N, 512)));
  k.run("matmul", [
    M,
    N,
    K,
    offset(b, a),
    transposeA ? 1 : K,
    transposeA ? M : 1,
    offset(b, bt),
    transposeB ? 1 : N,
    transposeB ? K : 1,
    offset(b, out),
    N,
    0,
    batch,
    batchA === 1 ? 0 : M * K,
    batchB === 1 ? 0 : K * N,
    M * N,
    scratch,
    stride,
  ]);
  return out;
}

// The 12-word geometry block of wasm/assembly/max_pool.ts.
function poolGeometry(info: tf.backend_util.Conv2DInfo): number[] {
  return [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.effectiveFilterHeight,
    info.effectiveFilterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  ];
}

/** Max pooling; windows clipped by padding take the max of what is inside. */
export function maxPool(
  k: HeapKernels,
  b: Backend,
  x: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const out = b.makeOutput(
    [info.batchSize, info.outHeight, info.outWidth, info.outChannels],
    "float32",
  );
  k.run("max_pool", [
    ...poolGeometry(info),
    offset(b, x),
    offset(b, out),
  ]);
  return out;
}

/** Routes each dy to the first maximum of its window. */
export function maxPoolGrad(
  k: HeapKernels,
  b: Backend,
  dy: tf.TensorInfo,
  x: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const out = b.makeOutput(x.shape.slice(), "float32");
  k.run("maxpool_grad", [
    ...poolGeometry(info),
    offset(b, x),
    offset(b, dy),
    offset(b, out),
  ]);
  return out;
}

/** out = act(conv2d(x, filter) + bias), act linear or relu, as one implicit GEMM. */
export function conv2D(
  k: HeapKernels,
  b: Backend,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  bias: tf.TensorInfo | null,
  relu: boolean,
  info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const { batchSize, outHeight, outWidth, outChannels } = info;
  const out = b.makeOutput(
    [batchSize, outHeight, outWidth, outChannels],
    "float32",
  );
  if (winogradFits(info)) {
    winograd(k, b, {
      x,
      w: filter,
      out,
      flip: false,
      batch: batchSize,
      inH: info.inHeight,
      inW: info.inWidth,
      inC: info.inChannels,
      outH: outHeight,
      outW: outWidth,
      outC: outChannels,
      padT: info.padInfo.top,
      padL: info.padInfo.left,
      bias,
      relu,
    });
    return out;
  }
  const [scratch, stride] = k.scratch(
    gemmScratchBytes(Math.min(outChannels, 512)),
  );
  k.run("conv_gemm", [
    ...forwardGeom(info),
    offset(b, x),
    offset(b, filter),
    offset(b, out),
    outChannels,
    scratch,
    stride,
  ]);
  biasAct(k, b, out, batchSize * outHeight * outWidth, outChannels, bias, relu);
  return out;
}

/**
 * Whether a convolution and its filter gradient run as Winograd
 * (wasm/assembly/winograd*.ts): 3x3, stride 1, no dilation, and output
 * channels that fill whole vectors. The input gradient swaps the roles of
 * the channels (see {@linkcode conv2DBackpropInput}).
 */
export function winogradFits(info: tf.backend_util.Conv2DInfo): boolean {
  return info.filterHeight === 3 && info.filterWidth === 3 &&
    info.strideHeight === 1 && info.strideWidth === 1 &&
    info.dilationHeight === 1 && info.dilationWidth === 1 &&
    info.outChannels % 4 === 0;
}

// Per-thread scratch of wasm/assembly/winograd*.ts: 36 positions x `tiles`
// (TB_CONV = 8 forward, TB_GRAD = 16 for the filter gradient) of
// transformed inputs (kp channels) and products (np), and 72 vectors of
// transform temporaries.
function winogradScratch(tiles: number, kp: number, np: number): number {
  return 36 * tiles * (kp + np) * 4 + 72 * 16;
}

interface WinogradCall {
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

// Transforms the filter into packed panels (once per filter tensor), then
// runs the tiled transform, GEMM and inverse transform of Winograd F(4x4,
// 3x3) (wasm/assembly/winograd_conv.ts).
function winograd(k: HeapKernels, b: Backend, c: WinogradCall): void {
  const np = Math.ceil(c.outC / 8) * 8;
  const kp = Math.ceil(c.inC / 4) * 4;
  const [u, fresh] = k.derived(c.w.dataId, c.flip ? 1 : 0, 36 * kp * np * 4);
  if (fresh) {
    k.run("wino_filter", [c.inC, c.outC, offset(b, c.w), u, c.flip ? 1 : 0]);
  }
  const [scratch, stride] = k.scratch(winogradScratch(8, kp, np));
  k.run("wino_conv", [
    c.batch,
    c.inH,
    c.inW,
    c.inC,
    c.outH,
    c.outW,
    c.padT,
    c.padL,
    offset(b, c.x),
    u,
    offset(b, c.out),
    c.outC,
    c.bias ? offset(b, c.bias) : 0,
    c.relu ? 1 : 0,
    scratch,
    stride,
  ]);
}

/** In place: out = act(out + bias) over rows of `cols` values. */
export function biasAct(
  k: HeapKernels,
  b: Backend,
  out: tf.TensorInfo,
  rows: number,
  cols: number,
  bias: tf.TensorInfo | null,
  relu: boolean,
): void {
  if (!bias && !relu) return;
  k.run("bias_act", [
    offset(b, out),
    rows,
    cols,
    bias ? offset(b, bias) : 0,
    relu ? 1 : 0,
  ]);
}

/** Sums a float32 tensor over every axis but the last: a layer's bias gradient. */
export function sumLeading(
  k: HeapKernels,
  b: Backend,
  x: tf.TensorInfo,
  keepDims: boolean,
): tf.TensorInfo {
  const cols = x.shape[x.shape.length - 1]!;
  const rows = tf.util.sizeFromShape(x.shape) / cols;
  const shape = keepDims
    ? [...x.shape.slice(0, -1).map(() => 1), cols]
    : [cols];
  const out = b.makeOutput(shape, "float32");
  const partials = k.extra(k.threads * cols * 4);
  const words = [offset(b, x), rows, cols, partials, offset(b, out), k.threads];
  k.run("col_sum", words);
  k.run("col_sum_reduce", words);
  return out;
}

const f32 = new Float32Array(1);
const f32Bits = new Int32Array(f32.buffer);
// An f32 parameter word: the value rounded to f32, as its bit pattern.
function bits(x: number): number {
  f32[0] = x;
  return f32Bits[0]!;
}

/** Adam's update of one variable in one pass; returns [w', m', v']. */
export function fusedAdam(
  k: HeapKernels,
  b: Backend,
  w: tf.TensorInfo,
  g: tf.TensorInfo,
  m: tf.TensorInfo,
  v: tf.TensorInfo,
  a: FusedAdamAttrs,
): tf.TensorInfo[] {
  const n = tf.util.sizeFromShape(w.shape);
  for (const t of [g, m, v]) {
    if (tf.util.sizeFromShape(t.shape) !== n) {
      throw new Error(
        `simdnet Adam: shapes [${w.shape}] and [${t.shape}] differ`,
      );
    }
  }
  const outs = [w, m, v].map((t) => b.makeOutput(t.shape.slice(), "float32"));
  k.run("adam_update", [
    n,
    offset(b, w),
    offset(b, g),
    offset(b, m),
    offset(b, v),
    ...outs.map((t) => offset(b, t)),
    bits(a.alpha),
    bits(a.beta1),
    bits(1 - a.beta1),
    bits(a.beta2),
    bits(1 - a.beta2),
    bits(a.epsilon),
  ]);
  return outs;
}

/** A dropout mask of 0 and 1 / (1 - rate) (see src/nn/dropout_mask.ts). */
export function dropoutMask(
  k: HeapKernels,
  b: Backend,
  a: DropoutMaskAttrs,
): tf.TensorInfo {
  const out = b.makeOutput(a.shape.slice(), "float32");
  k.run("dropout_mask", [
    tf.util.sizeFromShape(a.shape),
    offset(b, out),
    a.seed | 0,
    bits(a.rate),
    bits(1 / (1 - a.rate)),
  ]);
  return out;
}

/** dy * step(y): the gradient through a relu, from its output, in one pass. */
export function reluGrad(
  k: HeapKernels,
  b: Backend,
  dy: tf.TensorInfo,
  y: tf.TensorInfo,
): tf.TensorInfo {
  const n = tf.util.sizeFromShape(dy.shape);
  if (tf.util.sizeFromShape(y.shape) !== n) {
    throw new Error(
      `simdnet ReluGrad: shapes [${dy.shape}] and [${y.shape}] differ`,
    );
  }
  const out = b.makeOutput(dy.shape.slice(), "float32");
  k.run("relu_grad", [n, offset(b, dy), offset(b, y), offset(b, out)]);
  return out;
}
