/**
 * Input gradients of the convolutions Winograd does not take: at stride 1 a
 * forward implicit GEMM (`conv_gemm`) of the output gradient with the
 * flipped filter; strided, the output gradient times every tap as one
 * matrix product, then gathered into dx (`col2im`), since a stride of s
 * seen through zero insertion multiplies s x s times the products needed.
 *
 * @module
 */
import type * as tf from "@tensorflow/tfjs-core";
import type { HeapKernels } from "./wasm_kernels.ts";
import { type Backend, offset } from "./tfjs_heap.ts";
import { entry, paramBlock } from "./params.ts";
import type { KernelDecl } from "./decl.ts";
import { gemmScratch, MATMUL } from "./matmul.ts";
import { CONV_GEMM } from "./conv_gemm.ts";

/** wflip[(ky, kx, oc), ic] = w[KH-1-ky, KW-1-kx, ic, oc]. */
export const FLIP_FILTER = entry(
  "flip_filter",
  paramBlock("FlipFilter", {
    KH: "i32",
    KW: "i32",
    IC: "i32",
    OC: "i32",
    w: "ptr",
    wflip: "ptr",
  }),
);

/** dx gathered from g = dy · Wᵀ (see `stridedInputGrad`). */
export const COL2IM = entry(
  "col2im",
  paramBlock("Col2Im", {
    batch: "i32",
    H: "i32",
    W: "i32",
    C: "i32",
    OH: "i32",
    OW: "i32",
    kh: "i32",
    kw: "i32",
    strideH: "i32",
    strideW: "i32",
    padT: "i32",
    padL: "i32",
    g: "ptr",
    out: "ptr",
  }),
);

/**
 * dx = patches(dy) · flipped filter at stride 1 (a forward convolution of
 * dy); strided, `stridedInputGrad`.
 */
export function gemmInputGrad(
  k: HeapKernels,
  b: Backend,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  out: tf.TensorInfo,
): void {
  if (info.strideHeight > 1 || info.strideWidth > 1) {
    stridedInputGrad(k, b, dy, filter, info, out);
    return;
  }
  const { inChannels, outChannels } = info;
  const kh = info.filterHeight, kw = info.filterWidth;
  const wflip = k.extra(kh * kw * inChannels * outChannels * 4);
  k.run(FLIP_FILTER, {
    KH: kh,
    KW: kw,
    IC: inChannels,
    OC: outChannels,
    w: offset(b, filter),
    wflip,
  });
  const [scratch, scratchStride] = gemmScratch(k, Math.min(inChannels, 512));
  k.run(CONV_GEMM, {
    batch: info.batchSize,
    imgH: info.outHeight,
    imgW: info.outWidth,
    imgC: outChannels,
    rowsH: info.inHeight,
    rowsW: info.inWidth,
    kh,
    kw,
    strideH: 1,
    strideW: 1,
    dilH: 1,
    dilW: 1,
    padT: kh - 1 - info.padInfo.top,
    padL: kw - 1 - info.padInfo.left,
    img: offset(b, dy),
    w: wflip,
    out: offset(b, out),
    N: inChannels,
    scratch,
    scratchStride,
  });
}

// Products held at once by the strided input gradient (images beyond wait
// for the next chunk).
const COL2IM_CHUNK_BYTES = 32 << 20;

/**
 * The input gradient of a strided convolution as g = dy · Wᵀ (every output
 * gradient pixel times every tap, no inserted zeros), then dx gathered from
 * g (`col2im`), a chunk of images at a time. Through zero insertion a
 * stride of 2 made four times the products (dy 64x8x8x128 to dx
 * 64x16x16x64, EPYC AVX-512, fastest of 20 calls, two alternated runs: 3x3
 * 1 thread 58.2 -> 11.8-12.1 ms, 2 threads 29.8-30.1 -> 6.1-6.4; 1x1 6.4-6.5
 * -> 1.4, 3.2-3.3 -> 0.7).
 */
function stridedInputGrad(
  k: HeapKernels,
  b: Backend,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  info: tf.backend_util.Conv2DInfo,
  out: tf.TensorInfo,
): void {
  const { batchSize, inChannels: C, outChannels: OC } = info;
  const kh = info.filterHeight, kw = info.filterWidth;
  const N = kh * kw * C;
  const perImage = info.outHeight * info.outWidth;
  const images = Math.max(
    1,
    Math.min(batchSize, Math.floor(COL2IM_CHUNK_BYTES / (perImage * N * 4))),
  );
  const g = b.makeOutput([images * perImage, N], "float32");
  try {
    const [scratch, scratchStride] = gemmScratch(k, Math.min(N, 512));
    for (let b0 = 0; b0 < batchSize; b0 += images) {
      const n = Math.min(images, batchSize - b0);
      // g[P, N] = dy[P, OC] · Wᵀ, W = filter as [kh * kw * C, OC].
      k.run(MATMUL, {
        M: n * perImage,
        N,
        K: OC,
        a: offset(b, dy) + b0 * perImage * OC * 4,
        rsA: OC,
        csA: 1,
        b: offset(b, filter),
        rsB: 1,
        csB: OC,
        c: offset(b, g),
        ldc: N,
        acc: 0,
        batch: 1,
        bsA: 0,
        bsB: 0,
        bsC: 0,
        scratch,
        scratchStride,
      });
      k.run(COL2IM, {
        batch: n,
        H: info.inHeight,
        W: info.inWidth,
        C,
        OH: info.outHeight,
        OW: info.outWidth,
        kh,
        kw,
        strideH: info.strideHeight,
        strideW: info.strideWidth,
        padT: info.padInfo.top,
        padL: info.padInfo.left,
        g: offset(b, g),
        out: offset(b, out) + b0 * info.inHeight * info.inWidth * C * 4,
      });
    }
  } finally {
    b.disposeData(g.dataId);
  }
}

/** Entry points only: the tfjs kernels are declared in `conv2d.ts`. */
export const convInputGradKernels: KernelDecl = {
  family: "conv_input_grad",
  backend: "wasm",
  kernels: {},
  entries: [FLIP_FILTER, COL2IM],
};
