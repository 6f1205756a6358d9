/**
 * simdnet's `SimdnetReluGrad` kernel: dy * step(y), the gradient through a
 * relu from its output, in one pass (wasm/assembly/relu_grad.ts) instead of
 * tfjs' Step and Multiply. The caller is src/runtime/gradients_nn.ts.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { HeapKernels } from "./wasm_kernels.ts";
import { type Backend, offset } from "./tfjs_heap.ts";
import { entry, paramBlock } from "./params.ts";
import { type KernelArgs, type KernelDecl, requireFloat } from "./decl.ts";
import { RELU_GRAD } from "./custom_kernels.ts";

/** dx = dy * step(y) over n elements. */
export const RELU_GRAD_ENTRY = entry(
  "relu_grad",
  paramBlock("ReluGrad", { n: "i32", dy: "ptr", y: "ptr", dx: "ptr" }),
);

/** dy * step(y): the gradient through a relu, from its output, in one pass. */
export function reluGrad(
  k: HeapKernels,
  b: Backend,
  dy: tf.TensorInfo,
  y: tf.TensorInfo,
): tf.TensorInfo {
  const n = tf.util.sizeFromShape(dy.shape);
  if (tf.util.sizeFromShape(y.shape) !== n) {
    throw new Error(
      `simdnet ReluGrad: shapes [${dy.shape}] and [${y.shape}] differ`,
    );
  }
  const out = b.makeOutput(dy.shape.slice(), "float32");
  k.run(RELU_GRAD_ENTRY, {
    n,
    dy: offset(b, dy),
    y: offset(b, y),
    dx: offset(b, out),
  }, n);
  return out;
}

function reluGradKernel({ inputs, backend }: KernelArgs, k: HeapKernels) {
  const { dy, y } = inputs as Record<string, tf.TensorInfo>;
  requireFloat("ReluGrad", dy!, y!);
  return reluGrad(k, backend as Backend, dy!, y!);
}

/** The relu gradient in one pass. */
export const reluGradKernels: KernelDecl = {
  family: "relu_grad",
  backend: "wasm",
  kernels: { [RELU_GRAD]: reluGradKernel },
  entries: [RELU_GRAD_ENTRY],
};
