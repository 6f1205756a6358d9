/**
 * `FusedBatchNorm` (inference BatchNormalization, `tf.batchNorm`) over the
 * last axis, threaded and vectorised (wasm/assembly/batch_norm.ts): one
 * pass instead of tfjs-wasm's single-threaded kernel. Statistics, offset and
 * scale must each hold one value per channel of the last axis (or be
 * absent, for offset and scale); other broadcasts stay on tfjs.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { HeapKernels } from "./wasm_kernels.ts";
import { type Backend, offset } from "./tfjs_heap.ts";
import { entry, paramBlock } from "./params.ts";
import { fallback, type KernelArgs, type KernelDecl } from "./decl.ts";
import { broadcastPeriod } from "./binary.ts";

/** out = (x - mean) · scale / sqrt(variance + epsilon) + offset, per channel. */
export const BATCH_NORM = entry(
  "batch_norm",
  paramBlock("BatchNorm", {
    n: "i32",
    /** Channels: the size of the last axis. */
    C: "i32",
    x: "ptr",
    mean: "ptr",
    variance: "ptr",
    /** 0: none. */
    offset: "ptr",
    /** 0: none. */
    scale: "ptr",
    out: "ptr",
    epsilon: "f32",
    /** Per-thread scratch of 3 C floats. */
    scratch: "ptr",
    scratchStride: "i32",
  }),
);

function batchNormKernel(
  args: KernelArgs,
  k: HeapKernels,
  stock: tf.KernelFunc | null,
) {
  const { inputs, backend, attrs } = args;
  const { x, mean, variance, offset: off, scale } = inputs as Record<
    string,
    tf.TensorInfo | undefined
  >;
  const { varianceEpsilon } = attrs as unknown as tf.FusedBatchNormAttrs;
  const C = x!.shape[x!.shape.length - 1] ?? 1;
  const perChannel = (t: tf.TensorInfo | undefined) =>
    t === undefined ||
    (t.dtype === "float32" && tf.util.sizeFromShape(t.shape) === C &&
      broadcastPeriod(t.shape, x!.shape) === C);
  const n = tf.util.sizeFromShape(x!.shape);
  if (
    x!.dtype !== "float32" || x!.shape.length === 0 || n === 0 ||
    !mean || !variance ||
    ![mean, variance, off, scale].every(perChannel)
  ) {
    return fallback(
      stock,
      "FusedBatchNorm",
      "only per-channel statistics of the last axis are handled",
    )(args);
  }
  const b = backend as Backend;
  const out = b.makeOutput(x!.shape.slice(), "float32");
  const [scratch, scratchStride] = k.scratch(3 * C * 4);
  k.run(BATCH_NORM, {
    n,
    C,
    x: offset(b, x!),
    mean: offset(b, mean),
    variance: offset(b, variance),
    offset: off ? offset(b, off) : 0,
    scale: scale ? offset(b, scale) : 0,
    out: offset(b, out),
    epsilon: varianceEpsilon,
    scratch,
    scratchStride,
  });
  return out;
}

/** Inference batch normalization in one threaded pass. */
export const batchNormKernels: KernelDecl = {
  family: "batch_norm",
  backend: "wasm",
  kernels: { [tf.FusedBatchNorm]: batchNormKernel },
  entries: [BATCH_NORM],
};
