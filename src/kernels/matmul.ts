/**
 * Matrix products on the 6x8 GEMM micro-kernel (wasm/assembly/matmul.ts):
 * `BatchMatMul` (every transpose, broadcast batches) and `_FusedMatMul`
 * (bias and relu in one epilogue pass, `bias_act`, which the GEMM
 * convolutions share).
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
} from "./decl.ts";

/** Batched C = op(A) · op(B) with element strides (row rs, column cs). */
export const MATMUL = entry(
  "matmul",
  paramBlock("MatMul", {
    M: "i32",
    N: "i32",
    K: "i32",
    a: "ptr",
    rsA: "i32",
    csA: "i32",
    b: "ptr",
    rsB: "i32",
    csB: "i32",
    c: "ptr",
    ldc: "i32",
    /** Accumulate into C (1) instead of overwriting it (0). */
    acc: "i32",
    batch: "i32",
    /** Elements between batches of a, b and c (0: broadcast). */
    bsA: "i32",
    bsB: "i32",
    bsC: "i32",
    scratch: "ptr",
    scratchStride: "i32",
  }),
);

/** In place: out[r, c] = act(out[r, c] + bias[c]); bias 0 = none, act 0 linear, 1 relu. */
export const BIAS_ACT = entry(
  "bias_act",
  paramBlock("BiasAct", {
    out: "ptr",
    rows: "i32",
    cols: "i32",
    bias: "ptr",
    act: "i32",
  }),
);

// Below this many rows a fused matmul stays on XNNPACK (see _FusedMatMul).
const SMALL_MATMUL_ROWS = 16;

/**
 * Per-thread GEMM scratch for B blocks `bCols` wide, sized by the kernel
 * module (`gemm_scratch`), whose block sizes decide the layout.
 */
export function gemmScratch(k: HeapKernels, bCols: number): [number, number] {
  return k.scratch(k.pool.query("gemm_scratch", bCols));
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
  const [scratch, scratchStride] = gemmScratch(k, Math.min(N, 512));
  k.run(MATMUL, {
    M,
    N,
    K,
    a: offset(b, a),
    rsA: transposeA ? 1 : K,
    csA: transposeA ? M : 1,
    b: offset(b, bt),
    rsB: transposeB ? 1 : N,
    csB: transposeB ? K : 1,
    c: offset(b, out),
    ldc: N,
    acc: 0,
    batch,
    bsA: batchA === 1 ? 0 : M * K,
    bsB: batchB === 1 ? 0 : K * N,
    bsC: M * N,
    scratch,
    scratchStride,
  });
  return out;
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
  k.run(BIAS_ACT, {
    out: offset(b, out),
    rows,
    cols,
    bias: bias ? offset(b, bias) : 0,
    act: relu ? 1 : 0,
  });
}

function batchMatMulKernel(
  { inputs, backend, attrs }: KernelArgs,
  k: HeapKernels,
) {
  const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
  const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
  requireFloat("BatchMatMul", a, b);
  return batchMatMul(k, backend as Backend, a, b, transposeA, transposeB);
}

function fusedMatMulKernel(
  args: KernelArgs,
  k: HeapKernels,
  stock: tf.KernelFunc | null,
): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { a, b, bias, preluActivationWeights } = inputs as Record<
    string,
    tf.TensorInfo | undefined
  >;
  const at = attrs as unknown as tf._FusedMatMulAttrs;
  const act = at.activation ?? "linear";
  const n = at.transposeB
    ? b!.shape[b!.shape.length - 2]!
    : b!.shape[b!.shape.length - 1]!;
  if (
    (act !== "linear" && act !== "relu") || preluActivationWeights ||
    a!.dtype !== "float32" ||
    (bias && (bias.shape.length !== 1 || bias.shape[0] !== n))
  ) {
    return fallback(
      stock,
      "_FusedMatMul",
      `activation ${act} is not fused here`,
    )(args) as tf.TensorInfo;
  }
  // A few rows (batch-1 inference) would repack the whole weight matrix
  // per call; XNNPACK keeps it packed. Only untransposed: tfjs' own kernel
  // gets transposeB wrong for small shapes (kernels_test caught it).
  const m = a!.shape[a!.shape.length - 2]!;
  if (stock && !at.transposeA && !at.transposeB && m < SMALL_MATMUL_ROWS) {
    return stock(args) as tf.TensorInfo;
  }
  const out = batchMatMul(
    k,
    backend as Backend,
    a!,
    b!,
    at.transposeA,
    at.transposeB,
  );
  const rows = tf.util.sizeFromShape(out.shape) / n;
  biasAct(k, backend as Backend, out, rows, n, bias ?? null, act === "relu");
  return out;
}

/** Faster than tfjs' scalar loops; threaded, so XNNPACK's pool stays asleep. */
export const matmulKernels: KernelDecl = {
  family: "matmul",
  backend: "wasm",
  kernels: {
    [tf.BatchMatMul]: batchMatMulKernel,
    [tf._FusedMatMul]: fusedMatMulKernel,
  },
  entries: [MATMUL, BIAS_ACT],
  queries: ["gemm_scratch"],
};
