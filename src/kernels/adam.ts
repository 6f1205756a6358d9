/**
 * simdnet's `SimdnetAdam` kernel: Adam's update of one variable in one pass
 * (wasm/assembly/adam.ts) instead of seven tfjs ops. Name and attributes in
 * `custom_kernels.ts`; the caller is src/train/adam.ts.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { HeapKernels } from "./wasm_kernels.ts";
import { type Backend, offset } from "./tfjs_heap.ts";
import { entry, paramBlock } from "./params.ts";
import { type KernelArgs, type KernelDecl, requireFloat } from "./decl.ts";
import { FUSED_ADAM, type FusedAdamAttrs } from "./custom_kernels.ts";

/** w', m', v' from w, g, m, v; the coefficients as f32. */
export const ADAM_UPDATE = entry(
  "adam_update",
  paramBlock("AdamUpdate", {
    n: "i32",
    w: "ptr",
    g: "ptr",
    m: "ptr",
    v: "ptr",
    wOut: "ptr",
    mOut: "ptr",
    vOut: "ptr",
    alpha: "f32",
    beta1: "f32",
    oneMinusBeta1: "f32",
    beta2: "f32",
    oneMinusBeta2: "f32",
    epsilon: "f32",
  }),
);

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
  k.run(ADAM_UPDATE, {
    n,
    w: offset(b, w),
    g: offset(b, g),
    m: offset(b, m),
    v: offset(b, v),
    wOut: offset(b, outs[0]!),
    mOut: offset(b, outs[1]!),
    vOut: offset(b, outs[2]!),
    alpha: a.alpha,
    beta1: a.beta1,
    oneMinusBeta1: 1 - a.beta1,
    beta2: a.beta2,
    oneMinusBeta2: 1 - a.beta2,
    epsilon: a.epsilon,
  }, n);
  return outs;
}

function adamKernel({ inputs, backend, attrs }: KernelArgs, k: HeapKernels) {
  const { w, g, m, v } = inputs as Record<string, tf.TensorInfo>;
  requireFloat("Adam", w!, g!, m!, v!);
  return fusedAdam(
    k,
    backend as Backend,
    w!,
    g!,
    m!,
    v!,
    attrs as unknown as FusedAdamAttrs,
  );
}

/** The fused Adam update. */
export const adamKernels: KernelDecl = {
  family: "adam",
  backend: "wasm",
  kernels: { [FUSED_ADAM]: adamKernel },
  entries: [ADAM_UPDATE],
};
