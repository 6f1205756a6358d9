/**
 * Element-wise `Add`, `Sub`, `Multiply`, `RealDiv` and
 * `SquaredDifference` on float32, threaded (wasm/assembly/binary.ts), for
 * the broadcasts BatchNormalization and the activations' gradients use: an
 * operand that is the full output, a scalar, or a row repeated along the
 * leading axes (one value per channel of NHWC). Other broadcasts and dtypes
 * stay on tfjs. In an airbench step (bench/profile_airbench.ts, batch 512)
 * tfjs' single-threaded `Multiply` took 6% of the step once the
 * convolutions, reductions and `Tile` were threaded.
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
  type KernelImpl,
} from "./decl.ts";

/** out[i] = op(a[i % ma], b[i % mb]) over n elements. */
export const BINARY = entry(
  "binary",
  paramBlock("Binary", {
    /** An op code of {@linkcode BINARY_OPS}. */
    op: "i32",
    n: "i32",
    a: "ptr",
    /** a's period: n (full), 1 (scalar) or the size of a repeated row. */
    ma: "i32",
    b: "ptr",
    mb: "i32",
    out: "ptr",
  }),
);

/** The op codes of wasm/assembly/binary.ts, by tfjs kernel name. */
export const BINARY_OPS: Readonly<Record<string, number>> = {
  [tf.Add]: 0,
  [tf.Sub]: 1,
  [tf.Multiply]: 2,
  [tf.RealDiv]: 3,
  [tf.SquaredDifference]: 4,
};

/**
 * The period of `shape` inside `out` (its size), when its elements repeat
 * along out's leading axes: out's shape ends with shape's after its leading
 * 1s are dropped. Null for any other broadcast.
 */
export function broadcastPeriod(
  shape: readonly number[],
  out: readonly number[],
): number | null {
  let lead = 0;
  while (lead < shape.length && shape[lead] === 1) lead++;
  const tail = shape.slice(lead);
  if (tail.length > out.length) return null;
  const outTail = out.slice(out.length - tail.length);
  if (tail.some((d, i) => d !== outTail[i])) return null;
  return tail.reduce((p, d) => p * d, 1);
}

function binaryKernel(name: string, op: number): KernelImpl {
  return (args: KernelArgs, k: HeapKernels, stock: tf.KernelFunc | null) => {
    const { inputs, backend } = args;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const shape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
    const ma = broadcastPeriod(a.shape, shape);
    const mb = broadcastPeriod(b.shape, shape);
    const n = tf.util.sizeFromShape(shape);
    if (
      a.dtype !== "float32" || b.dtype !== "float32" || ma === null ||
      mb === null || n === 0
    ) {
      return fallback(
        stock,
        name,
        "only float32 with a full, scalar or repeated-row operand",
      )(args);
    }
    const bk = backend as Backend;
    const out = bk.makeOutput(shape, "float32");
    k.run(BINARY, {
      op,
      n,
      a: offset(bk, a),
      ma,
      b: offset(bk, b),
      mb,
      out: offset(bk, out),
    }, n);
    return out;
  };
}

/** The broadcasting binary ops, one entry point. */
export const binaryKernels: KernelDecl = {
  family: "binary",
  backend: "wasm",
  kernels: Object.fromEntries(
    Object.entries(BINARY_OPS).map((
      [name, op],
    ) => [name, binaryKernel(name, op)]),
  ),
  entries: [BINARY],
};
