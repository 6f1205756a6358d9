/**
 * simdnet's `SimdnetDropoutMask` kernel: a dropout mask from a counter hash
 * (wasm/assembly/dropout.ts) that the JS version in src/nn/dropout_mask.ts
 * reproduces bit for bit. Name and attributes in `custom_kernels.ts`.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { HeapKernels } from "./wasm_kernels.ts";
import { type Backend, offset } from "./tfjs_heap.ts";
import { entry, paramBlock } from "./params.ts";
import type { KernelArgs, KernelDecl } from "./decl.ts";
import { DROPOUT_MASK, type DropoutMaskAttrs } from "./custom_kernels.ts";

/** n values of 0 or scale = 1 / (1 - rate), keeping u(seed, i) >= rate. */
export const DROPOUT_MASK_ENTRY = entry(
  "dropout_mask",
  paramBlock("DropoutMask", {
    n: "i32",
    out: "ptr",
    seed: "i32",
    rate: "f32",
    scale: "f32",
  }),
);

/** A dropout mask of 0 and 1 / (1 - rate) (see src/nn/dropout_mask.ts). */
export function dropoutMask(
  k: HeapKernels,
  b: Backend,
  a: DropoutMaskAttrs,
): tf.TensorInfo {
  const out = b.makeOutput(a.shape.slice(), "float32");
  const n = tf.util.sizeFromShape(a.shape);
  k.run(DROPOUT_MASK_ENTRY, {
    n,
    out: offset(b, out),
    seed: a.seed | 0,
    rate: a.rate,
    scale: 1 / (1 - a.rate),
  }, n);
  return out;
}

function dropoutKernel({ backend, attrs }: KernelArgs, k: HeapKernels) {
  return dropoutMask(
    k,
    backend as Backend,
    attrs as unknown as DropoutMaskAttrs,
  );
}

/** Dropout masks drawn the same on every backend. */
export const dropoutKernels: KernelDecl = {
  family: "dropout",
  backend: "wasm",
  kernels: { [DROPOUT_MASK]: dropoutKernel },
  entries: [DROPOUT_MASK_ENTRY],
};
