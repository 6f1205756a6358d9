/**
 * `Slice` inside the heap. tfjs' wasm Slice first reads its whole input out
 * of the heap (`readSync`: a fresh copy, and on these VMs a page fault for
 * every new 4 KiB), so taking a batch at a time from a large tensor was
 * quadratic: the seed CNN's `model.predict` on 4,000 images in batches of
 * 32 took 21.9 s against 4.3 s as one batch. Here a slice is one copy
 * within the heap per contiguous run of the output.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { HeapKernels } from "./wasm_kernels.ts";
import { type Backend, offset } from "./tfjs_heap.ts";
import { fallback, type KernelArgs, type KernelDecl } from "./decl.ts";

function sliceKernel(
  args: KernelArgs,
  k: HeapKernels,
  stock: tf.KernelFunc | null,
): tf.TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x } = inputs as { x: tf.TensorInfo };
  if (x.dtype === "string" || x.dtype === "complex64") {
    return fallback(stock, "Slice", `${x.dtype} tensors`)(
      args,
    ) as tf.TensorInfo;
  }
  const { begin, size } = attrs as unknown as tf.SliceAttrs;
  const [start, sizes] = tf.slice_util.parseSliceParams(
    x as tf.Tensor,
    begin,
    size,
  ) as [number[], number[]];
  tf.slice_util.assertParamsValid(x as tf.Tensor, start, sizes);
  const b = backend as Backend;
  const out = b.makeOutput(sizes, x.dtype);
  if (tf.util.sizeFromShape(sizes) === 0) return out;
  const shape = x.shape;
  const rank = shape.length;
  const elem = tf.util.bytesPerElement(x.dtype);
  // Trailing axes taken whole join the run copied at once; the axis before
  // them (if any) is taken in part, and the axes before that are counted.
  let whole = rank;
  while (whole > 0 && sizes[whole - 1] === shape[whole - 1]) whole--;
  const strides = [...tf.util.computeStrides(shape), 1];
  const first = start.reduce((s, v, i) => s + v * strides[i]!, 0);
  const heap = k.heap();
  const src = offset(b, x) + first * elem;
  const dst = offset(b, out);
  if (whole <= 1) {
    const n = tf.util.sizeFromShape(sizes) * elem;
    heap.copyWithin(dst, src, src + n);
    return out;
  }
  const run = sizes.slice(whole - 1).reduce((p, v) => p * v, 1) * elem;
  const outer = sizes.slice(0, whole - 1);
  const at = outer.map(() => 0);
  for (let d = dst, done = false; !done; d += run) {
    const s = src + at.reduce((p, v, i) => p + v * strides[i]!, 0) * elem;
    heap.copyWithin(d, s, s + run);
    // The next index of the counted axes, last fastest.
    let i = outer.length - 1;
    while (i >= 0 && ++at[i]! === outer[i]) at[i--] = 0;
    done = i < 0;
  }
  return out;
}

/** `Slice` as copies within the heap. */
export const sliceKernels: KernelDecl = {
  family: "slice",
  backend: "wasm",
  kernels: { [tf.Slice]: sliceKernel },
  entries: [],
};
