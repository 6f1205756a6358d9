/**
 * Element-wise activations, threaded and vectorised
 * (wasm/assembly/unary.ts): `Erf`, `Tanh` (tanh-approximated GELU) and
 * `LeakyRelu`, which tfjs-wasm computes one scalar at a time on one
 * thread, and simdnet's `SimdnetGelu` with its gradient `SimdnetGeluGrad`,
 * one pass each where the composite `x/2 (1 + erf(x/√2))` took five
 * forward and about a dozen backward (Exp, Neg, Square, OnesLike, Cast and
 * Multiply were 7% of the fast recipe's step). On 512x7x7x128 (one core free of two, best of 7): Erf 45 -> 12
 * ms, Tanh 55 -> 11 ms, LeakyRelu 33 -> 1.5 ms. In an airbench step
 * (bench/profile_airbench.ts, batch 512) Erf took 3% before the bigger
 * kernels were threaded. `Exp`, `Sigmoid`, `Elu` and `Relu6` stay on tfjs:
 * its XNNPACK versions are vectorised and were as fast or faster (Sigmoid
 * 3.7 ms against 10 ms for this exp-based one).
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
  requireFloat,
} from "./decl.ts";
import { GELU, GELU_GRAD } from "./custom_kernels.ts";

/** out = op(x) over n float32 elements; `alpha` for LeakyRelu. */
export const UNARY = entry(
  "unary",
  paramBlock("Unary", {
    /** An op code of {@linkcode UNARY_OPS}. */
    op: "i32",
    n: "i32",
    x: "ptr",
    out: "ptr",
    alpha: "f32",
  }),
);

/** The op codes of wasm/assembly/unary.ts, by tfjs kernel name. */
export const UNARY_OPS: Readonly<Record<string, number>> = {
  [tf.Erf]: 0,
  [tf.Tanh]: 1,
  [tf.LeakyRelu]: 2,
  [GELU]: 3,
};

/** dx = dy * gelu'(x) over n elements. */
export const GELU_GRAD_ENTRY = entry(
  "gelu_grad",
  paramBlock("GeluGrad", { n: "i32", dy: "ptr", x: "ptr", dx: "ptr" }),
);

function geluGradKernel({ inputs, backend }: KernelArgs, k: HeapKernels) {
  const { dy, x } = inputs as Record<string, tf.TensorInfo>;
  requireFloat("GeluGrad", dy!, x!);
  const n = tf.util.sizeFromShape(dy!.shape);
  if (tf.util.sizeFromShape(x!.shape) !== n) {
    throw new Error(
      `simdnet GeluGrad: shapes [${dy!.shape}] and [${x!.shape}] differ`,
    );
  }
  const b = backend as Backend;
  const out = b.makeOutput(dy!.shape.slice(), "float32");
  if (n === 0) return out;
  k.run(GELU_GRAD_ENTRY, {
    n,
    dy: offset(b, dy!),
    x: offset(b, x!),
    dx: offset(b, out),
  }, n);
  return out;
}

function unaryKernel(name: string, op: number): KernelImpl {
  return (args: KernelArgs, k: HeapKernels, stock: tf.KernelFunc | null) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs as { x: tf.TensorInfo };
    if (x.dtype !== "float32") {
      return fallback(stock, name, "only float32 is handled")(args);
    }
    const b = backend as Backend;
    const out = b.makeOutput(x.shape.slice(), "float32");
    const n = tf.util.sizeFromShape(x.shape);
    if (n === 0) return out;
    const alpha = (attrs as { alpha?: number } | undefined)?.alpha ?? 0;
    k.run(UNARY, { op, n, x: offset(b, x), out: offset(b, out), alpha }, n);
    return out;
  };
}

/** The unary activations, one entry point, and GELU's gradient. */
export const unaryKernels: KernelDecl = {
  family: "unary",
  backend: "wasm",
  kernels: {
    ...Object.fromEntries(
      Object.entries(UNARY_OPS).map((
        [name, op],
      ) => [name, unaryKernel(name, op)]),
    ),
    [GELU_GRAD]: geluGradKernel,
  },
  entries: [UNARY, GELU_GRAD_ENTRY],
};
