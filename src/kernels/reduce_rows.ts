/**
 * `Mean`, `Sum` and `Max` over the middle axes of a tensor, keeping the
 * first and the last (wasm/assembly/reduce_rows.ts): global average and
 * global max pooling, `tf.mean(x, [1, 2])` and `tf.max(x, [1, 2])` on NHWC,
 * one image per thread at a time, four channels per vector. `sum.ts`
 * handles reductions over every axis but the last; others stay on tfjs.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { HeapKernels } from "./wasm_kernels.ts";
import { type Backend, offset } from "./tfjs_heap.ts";
import { entry, paramBlock } from "./params.ts";

/** out[o, c] = scale · (sum or max) over r of x[o, r, c]. */
export const REDUCE_ROWS = entry(
  "reduce_rows",
  paramBlock("ReduceRows", {
    x: "ptr",
    outer: "i32",
    rows: "i32",
    cols: "i32",
    out: "ptr",
    /** 0 sum, 1 max. */
    op: "i32",
    scale: "f32",
  }),
);

/**
 * Whether `axes` (sorted) are exactly 1 .. rank - 2 of a float32 tensor
 * with at least one element: the reduction {@linkcode reduceMiddle} does.
 */
export function middleAxes(x: tf.TensorInfo, axes: number[]): boolean {
  const rank = x.shape.length;
  return x.dtype === "float32" && rank >= 3 && axes.length === rank - 2 &&
    axes.every((v, i) => v === i + 1) && tf.util.sizeFromShape(x.shape) > 0;
}

/** Reduces x over its middle axes: "mean", "sum" or "max". */
export function reduceMiddle(
  k: HeapKernels,
  b: Backend,
  x: tf.TensorInfo,
  keepDims: boolean,
  kind: "mean" | "sum" | "max",
): tf.TensorInfo {
  const rank = x.shape.length;
  const outer = x.shape[0]!, cols = x.shape[rank - 1]!;
  const rows = tf.util.sizeFromShape(x.shape) / (outer * cols);
  const shape = keepDims
    ? [outer, ...x.shape.slice(1, -1).map(() => 1), cols]
    : [outer, cols];
  const out = b.makeOutput(shape, "float32");
  k.run(REDUCE_ROWS, {
    x: offset(b, x),
    outer,
    rows,
    cols,
    out: offset(b, out),
    op: kind === "max" ? 1 : 0,
    scale: kind === "mean" ? 1 / rows : 1,
  });
  return out;
}
