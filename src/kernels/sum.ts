/**
 * `Sum` and `Mean` over every axis but the last (a layer's bias gradient,
 * BatchNormalization's moments), threaded: per-thread column sums, then a
 * reduction (wasm/assembly/kernels.ts); `Sum`, `Mean` and `Max` over the
 * middle axes (global pooling) through `reduce_rows.ts`. Other reductions
 * stay on tfjs' kernels.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { HeapKernels } from "./wasm_kernels.ts";
import { type Backend, offset } from "./tfjs_heap.ts";
import { entry, paramBlock } from "./params.ts";
import { middleAxes, REDUCE_ROWS, reduceMiddle } from "./reduce_rows.ts";
import {
  fallback,
  type KernelArgs,
  type KernelDecl,
  type KernelImpl,
} from "./decl.ts";

const COL_SUM_BLOCK = paramBlock("ColSum", {
  /** A row-major [rows, cols] matrix. */
  x: "ptr",
  rows: "i32",
  cols: "i32",
  partials: "ptr",
  out: "ptr",
  /** Partials to add up (the threads of phase 1). */
  parts: "i32",
  /** Phase 2 multiplies the sums by this: 1 for Sum, 1/rows for Mean. */
  scale: "f32",
});

/** Phase 1: each thread's column sums of its rows into its partial. */
export const COL_SUM = entry("col_sum", COL_SUM_BLOCK);
/** Phase 2: out = scale · Σ partials, on the same block. */
export const COL_SUM_REDUCE = entry("col_sum_reduce", COL_SUM_BLOCK);

/**
 * Sums a float32 tensor over every axis but the last, or averages it when
 * `mean` is set.
 */
export function sumLeading(
  k: HeapKernels,
  b: Backend,
  x: tf.TensorInfo,
  keepDims: boolean,
  mean = false,
): tf.TensorInfo {
  const cols = x.shape[x.shape.length - 1]!;
  const rows = tf.util.sizeFromShape(x.shape) / cols;
  const shape = keepDims
    ? [...x.shape.slice(0, -1).map(() => 1), cols]
    : [cols];
  const out = b.makeOutput(shape, "float32");
  const partials = k.partials(cols * 4);
  const params = {
    x: offset(b, x),
    rows,
    cols,
    partials,
    out: offset(b, out),
    parts: k.threads,
    scale: mean ? 1 / rows : 1,
  };
  k.run(COL_SUM, params);
  k.run(COL_SUM_REDUCE, params);
  return out;
}

function leadingAxes(x: tf.TensorInfo, axes: number[]): boolean {
  const rank = x.shape.length;
  return rank >= 2 && axes.length === rank - 1 &&
    axes.every((v, i) => v === i) && tf.util.sizeFromShape(x.shape) > 0;
}

function reduceKernel(kind: "sum" | "mean" | "max"): KernelImpl {
  const name = kind === "sum" ? "Sum" : kind === "mean" ? "Mean" : "Max";
  return (args: KernelArgs, k: HeapKernels, stock: tf.KernelFunc | null) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs as { x: tf.TensorInfo };
    const a = attrs as { keepDims: boolean; axis?: number | number[] };
    // Max names its axes reductionIndices.
    const axis = kind === "max"
      ? (attrs as unknown as tf.MaxAttrs).reductionIndices
      : a.axis!;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const b = backend as Backend;
    if (middleAxes(x, axes)) return reduceMiddle(k, b, x, a.keepDims, kind);
    if (kind !== "max" && leadingAxes(x, axes) && x.dtype === "float32") {
      return sumLeading(k, b, x, a.keepDims, kind === "mean");
    }
    return fallback(
      stock,
      name,
      "only reductions over the leading or the middle axes are handled",
    )(args);
  };
}

/**
 * The bias-gradient `Sum`, so a training step never wakes XNNPACK's pool,
 * the per-channel `Mean` of BatchNormalization's batch moments (over N, H,
 * W of NHWC; tfjs-wasm's is single-threaded, 2% of an airbench step), and
 * global average and max pooling (`Mean` / `Max` over H, W).
 */
export const sumKernels: KernelDecl = {
  family: "sum",
  backend: "wasm",
  kernels: {
    [tf.Sum]: reduceKernel("sum"),
    [tf.Mean]: reduceKernel("mean"),
    [tf.Max]: reduceKernel("max"),
  },
  entries: [COL_SUM, COL_SUM_REDUCE, REDUCE_ROWS],
};
