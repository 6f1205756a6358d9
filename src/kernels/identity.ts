/**
 * A zero-copy `Identity`. tfjs' wasm Identity copies the tensor; gradients
 * call it on every activation. Sharing the buffer (as Reshape and the cpu
 * backend do) is safe because no kernel writes into its inputs.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { Backend } from "./tfjs_heap.ts";
import { fallback, type KernelArgs, type KernelDecl } from "./decl.ts";

function identityKernel(
  args: KernelArgs,
  _k: unknown,
  stock: tf.KernelFunc | null,
) {
  const { inputs, backend } = args;
  const { x } = inputs as { x: tf.TensorInfo };
  if (x.dtype === "string") {
    return fallback(stock, "Identity", "strings are copied")(args);
  }
  (backend as Backend & { incRef(id: tf.DataId): void }).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
}

/** `Identity` shares its input's buffer. */
export const identityKernels: KernelDecl = {
  family: "identity",
  backend: "wasm",
  kernels: { [tf.Identity]: identityKernel },
  entries: [],
};
