/**
 * Max pooling and its gradient (wasm/assembly/max_pool.ts), threaded, four
 * channels per vector. Windows clipped by padding take the maximum of what
 * is inside; the gradient goes to the first maximum of each window.
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
  requireFloat,
} from "./decl.ts";

/** The 12 geometry words every pooling block starts with. */
export const POOL_GEOM = {
  B: "i32",
  H: "i32",
  W: "i32",
  C: "i32",
  OH: "i32",
  OW: "i32",
  /** The effective (dilated) window. */
  fh: "i32",
  fw: "i32",
  sh: "i32",
  sw: "i32",
  padT: "i32",
  padL: "i32",
} as const;

/** out = the maximum of each window of x. */
export const MAX_POOL = entry(
  "max_pool",
  paramBlock("MaxPool", { ...POOL_GEOM, x: "ptr", out: "ptr" }),
);

/** dx: each dy added at the first maximum of its window of x. */
export const MAXPOOL_GRAD = entry(
  "maxpool_grad",
  paramBlock("MaxPoolGrad", { ...POOL_GEOM, x: "ptr", dy: "ptr", dx: "ptr" }),
);

type Shape4 = [number, number, number, number];

/** The {@linkcode POOL_GEOM} words of a pooling. */
export function poolGeometry(
  info: tf.backend_util.Conv2DInfo,
): { [K in keyof typeof POOL_GEOM]: number } {
  return {
    B: info.batchSize,
    H: info.inHeight,
    W: info.inWidth,
    C: info.inChannels,
    OH: info.outHeight,
    OW: info.outWidth,
    fh: info.effectiveFilterHeight,
    fw: info.effectiveFilterWidth,
    sh: info.strideHeight,
    sw: info.strideWidth,
    padT: info.padInfo.top,
    padL: info.padInfo.left,
  };
}

function maxPoolKernel(
  args: KernelArgs,
  k: HeapKernels,
  stock: tf.KernelFunc | null,
) {
  const { inputs, backend, attrs } = args;
  const { x } = inputs as { x: tf.TensorInfo };
  const a = attrs as unknown as tf.MaxPoolAttrs;
  const info = tf.backend_util.computePool2DInfo(
    x.shape as Shape4,
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  if (
    x.dtype !== "float32" || info.dilationHeight !== 1 ||
    info.dilationWidth !== 1
  ) {
    return fallback(stock, "MaxPool", "only float32 without dilation")(args);
  }
  const b = backend as Backend;
  const out = b.makeOutput(
    [info.batchSize, info.outHeight, info.outWidth, info.outChannels],
    "float32",
  );
  k.run(MAX_POOL, {
    ...poolGeometry(info),
    x: offset(b, x),
    out: offset(b, out),
  });
  return out;
}

function maxPoolGradKernel(
  { inputs, backend, attrs }: KernelArgs,
  k: HeapKernels,
) {
  const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const a = attrs as unknown as tf.MaxPoolGradAttrs;
  requireFloat("MaxPoolGrad", dy, input);
  const info = tf.backend_util.computePool2DInfo(
    input.shape as Shape4,
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  const b = backend as Backend;
  const out = b.makeOutput(input.shape.slice(), "float32");
  k.run(MAXPOOL_GRAD, {
    ...poolGeometry(info),
    x: offset(b, input),
    dy: offset(b, dy),
    dx: offset(b, out),
  });
  return out;
}

/** `MaxPool` threaded (tfjs' is XNNPACK's); `MaxPoolGrad` vectorised. */
export const maxPoolKernels: KernelDecl = {
  family: "max_pool",
  backend: "wasm",
  kernels: {
    [tf.MaxPool]: maxPoolKernel,
    [tf.MaxPoolGrad]: maxPoolGradKernel,
  },
  entries: [MAX_POOL, MAXPOOL_GRAD],
};
