/**
 * simdnet's training batch normalization kernels over the last axis
 * (wasm/assembly/batch_norm_train.ts): `SimdnetMoments`, the batch mean and
 * biased variance in one pass over x, and `SimdnetBatchNormGrad`, the
 * gradients for x, gamma and beta in two. The caller is
 * src/nn/batch_norm_train.ts; elsewhere it uses tfjs ops.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { HeapKernels } from "./wasm_kernels.ts";
import { type Backend, offset } from "./tfjs_heap.ts";
import { entry, paramBlock } from "./params.ts";
import { type KernelArgs, type KernelDecl, requireFloat } from "./decl.ts";
import {
  BATCH_NORM_GRAD,
  type BatchNormGradAttrs,
  MOMENTS,
} from "./custom_kernels.ts";

const STATS_BLOCK = paramBlock("BatchStats", {
  rows: "i32",
  /** Channels: the size of the last axis. */
  C: "i32",
  x: "ptr",
  /** Per-thread float64 sums, 2 C each, on whole cache lines. */
  partials: "ptr",
  parts: "i32",
  mean: "ptr",
  variance: "ptr",
});

/** Phase 1: each thread's shifted sums and sums of squares. */
export const BN_STATS = entry("bn_stats", STATS_BLOCK);
/** Phase 2: mean and biased variance, on the same block. */
export const BN_STATS_REDUCE = entry("bn_stats_reduce", STATS_BLOCK);

const GRAD_BLOCK = paramBlock("BatchNormGrad", {
  rows: "i32",
  C: "i32",
  x: "ptr",
  dy: "ptr",
  mean: "ptr",
  variance: "ptr",
  /** 0: gamma = 1. */
  gamma: "ptr",
  epsilon: "f32",
  /** Per-thread float64 sums, then 3 C floats: dx's coefficients. */
  partials: "ptr",
  parts: "i32",
  dx: "ptr",
  dgamma: "ptr",
  dbeta: "ptr",
});

/** Phase 1: each thread's Σ dy and Σ dy (x - mean). */
export const BN_GRAD_SUMS = entry("bn_grad_sums", GRAD_BLOCK);
/** Phase 2: dgamma, dbeta and the coefficients of dx. */
export const BN_GRAD_REDUCE = entry("bn_grad_reduce", GRAD_BLOCK);
/** Phase 3: dx. */
export const BN_GRAD_DX = entry("bn_grad_dx", GRAD_BLOCK);

// [rows, C] of a tensor normalised over its last axis.
function rowsAndChannels(kernel: string, x: tf.TensorInfo): [number, number] {
  const C = x.shape[x.shape.length - 1];
  const n = tf.util.sizeFromShape(x.shape);
  if (C === undefined || C === 0 || n === 0) {
    throw new Error(
      `simdnet ${kernel}: expected a non-empty tensor with a channel axis, ` +
        `got shape [${x.shape}]`,
    );
  }
  return [n / C, C];
}

// Every per-channel input holds exactly C values.
function requireChannels(
  kernel: string,
  C: number,
  ts: Record<string, tf.TensorInfo | undefined>,
): void {
  for (const [name, t] of Object.entries(ts)) {
    if (t && tf.util.sizeFromShape(t.shape) !== C) {
      throw new Error(
        `simdnet ${kernel}: ${name} must hold one value per channel (${C}), ` +
          `got shape [${t.shape}]`,
      );
    }
  }
}

function momentsKernel({ inputs, backend }: KernelArgs, k: HeapKernels) {
  const { x } = inputs as { x: tf.TensorInfo };
  requireFloat(MOMENTS, x);
  const [rows, C] = rowsAndChannels(MOMENTS, x);
  const b = backend as Backend;
  const mean = b.makeOutput([C], "float32");
  const variance = b.makeOutput([C], "float32");
  const params = {
    rows,
    C,
    x: offset(b, x),
    partials: k.partials(C * 16),
    parts: k.threads,
    mean: offset(b, mean),
    variance: offset(b, variance),
  };
  k.run(BN_STATS, params);
  k.run(BN_STATS_REDUCE, params);
  return [mean, variance];
}

function batchNormGradKernel(
  { inputs, backend, attrs }: KernelArgs,
  k: HeapKernels,
) {
  const { dy, x, mean, variance, gamma } = inputs as Record<
    string,
    tf.TensorInfo | undefined
  >;
  const { epsilon } = attrs as unknown as BatchNormGradAttrs;
  requireFloat(BATCH_NORM_GRAD, dy!, x!, mean!, variance!);
  if (gamma) requireFloat(BATCH_NORM_GRAD, gamma);
  const [rows, C] = rowsAndChannels(BATCH_NORM_GRAD, x!);
  if (!tf.util.arraysEqual(dy!.shape, x!.shape)) {
    throw new Error(
      `simdnet ${BATCH_NORM_GRAD}: dy [${dy!.shape}] and x [${x!.shape}] ` +
        `differ`,
    );
  }
  requireChannels(BATCH_NORM_GRAD, C, { mean, variance, gamma });
  const b = backend as Backend;
  const dx = b.makeOutput(x!.shape.slice(), "float32");
  const dgamma = b.makeOutput([C], "float32");
  const dbeta = b.makeOutput([C], "float32");
  // The partials, then the coefficients the reduce phase shares out (the
  // kernel finds them after the last partial).
  const partials = k.partials(C * 16, 3 * C * 4);
  const params = {
    rows,
    C,
    x: offset(b, x!),
    dy: offset(b, dy!),
    mean: offset(b, mean!),
    variance: offset(b, variance!),
    gamma: gamma ? offset(b, gamma) : 0,
    epsilon,
    partials,
    parts: k.threads,
    dx: offset(b, dx),
    dgamma: offset(b, dgamma),
    dbeta: offset(b, dbeta),
  };
  k.run(BN_GRAD_SUMS, params);
  k.run(BN_GRAD_REDUCE, params);
  k.run(BN_GRAD_DX, params);
  return [dx, dgamma, dbeta];
}

/** Batch statistics and the batch-norm gradient, each threaded. */
export const batchNormTrainKernels: KernelDecl = {
  family: "batch_norm_train",
  backend: "wasm",
  kernels: {
    [MOMENTS]: momentsKernel,
    [BATCH_NORM_GRAD]: batchNormGradKernel,
  },
  entries: [
    BN_STATS,
    BN_STATS_REDUCE,
    BN_GRAD_SUMS,
    BN_GRAD_REDUCE,
    BN_GRAD_DX,
  ],
};
