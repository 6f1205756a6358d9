/**
 * `Tile`, threaded (wasm/assembly/tile.ts). tfjs' gradients of `Sum` and
 * `Mean` spread the output gradient back with `broadcastTo`, which is a
 * `Tile`; tfjs-wasm's runs one element at a time on one thread and took 55%
 * of an airbench training step (two `Tile 1x1x1xC` rows per BatchNorm,
 * bench/profile_airbench.ts). Here each thread copies whole rows.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { HeapKernels } from "./wasm_kernels.ts";
import { type Backend, offset } from "./tfjs_heap.ts";
import { entry, paramBlock } from "./params.ts";
import { fallback, type KernelArgs, type KernelDecl } from "./decl.ts";

/** Ranks up to this are padded with leading 1s; higher ranks stay on tfjs. */
export const TILE_RANK = 6;

/**
 * out = x repeated along each axis: dims `x0..x5` of x and `o0..o5` of
 * out (a multiple of x's on every axis), rank padded to 6, 4-byte elements.
 */
export const TILE = entry(
  "tile",
  paramBlock("Tile", {
    x0: "i32",
    x1: "i32",
    x2: "i32",
    x3: "i32",
    x4: "i32",
    x5: "i32",
    o0: "i32",
    o1: "i32",
    o2: "i32",
    o3: "i32",
    o4: "i32",
    o5: "i32",
    x: "ptr",
    out: "ptr",
  }),
);

type Dims6 = [number, number, number, number, number, number];

function padded(shape: readonly number[]): number[] {
  return [...new Array(TILE_RANK - shape.length).fill(1), ...shape];
}

function tileKernel(
  args: KernelArgs,
  k: HeapKernels,
  stock: tf.KernelFunc | null,
) {
  const { inputs, backend, attrs } = args;
  const { x } = inputs as { x: tf.TensorInfo };
  const { reps } = attrs as unknown as tf.TileAttrs;
  const outShape = x.shape.map((d, i) => d * (reps[i] ?? 1));
  if (
    (x.dtype !== "float32" && x.dtype !== "int32") ||
    x.shape.length > TILE_RANK || reps.length !== x.shape.length
  ) {
    return fallback(stock, "Tile", "only 4-byte types up to rank 6")(args);
  }
  const b = backend as Backend;
  const out = b.makeOutput(outShape, x.dtype);
  if (tf.util.sizeFromShape(outShape) === 0) return out;
  const [x0, x1, x2, x3, x4, x5] = padded(x.shape) as Dims6;
  const [o0, o1, o2, o3, o4, o5] = padded(outShape) as Dims6;
  k.run(TILE, {
    x0,
    x1,
    x2,
    x3,
    x4,
    x5,
    o0,
    o1,
    o2,
    o3,
    o4,
    o5,
    x: offset(b, x),
    out: offset(b, out),
  });
  return out;
}

/** `Tile` (and so `broadcastTo`) for float32 and int32. */
export const tileKernels: KernelDecl = {
  family: "tile",
  backend: "wasm",
  kernels: { [tf.Tile]: tileKernel },
  entries: [TILE],
};
