/**
 * Average pooling and its gradient (wasm/assembly/avg_pool.ts), threaded,
 * four channels per vector, any pool size, strides and padding, with
 * tfjs' semantics: `AvgPool` averages the pixels of each window inside the
 * image; `AvgPoolGrad` weighs every dy by 1 / (pool height x pool width),
 * padding included, as tfjs' cpu and wasm kernels do (so at "same"-padded
 * borders it is not the exact derivative of `AvgPool`; Keras/TensorFlow
 * divide by the in-image count there).
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
import { POOL_GEOM, poolGeometry } from "./max_pool.ts";

/** out = the mean of each window's pixels inside the image. */
export const AVG_POOL = entry(
  "avg_pool",
  paramBlock("AvgPool", { ...POOL_GEOM, x: "ptr", out: "ptr" }),
);

/** dx = scale · the sum of dy over the windows holding each pixel. */
export const AVGPOOL_GRAD = entry(
  "avgpool_grad",
  paramBlock("AvgPoolGrad", {
    ...POOL_GEOM,
    dy: "ptr",
    dx: "ptr",
    scale: "f32",
  }),
);

type Shape4 = [number, number, number, number];

function avgPoolKernel(
  args: KernelArgs,
  k: HeapKernels,
  stock: tf.KernelFunc | null,
) {
  const { inputs, backend, attrs } = args;
  const { x } = inputs as { x: tf.TensorInfo };
  const a = attrs as unknown as tf.AvgPoolAttrs;
  const info = tf.backend_util.computePool2DInfo(
    x.shape as Shape4,
    a.filterSize,
    a.strides,
    1,
    a.pad,
    a.dimRoundingMode,
  );
  if (x.dtype !== "float32") {
    return fallback(stock, "AvgPool", "only float32 is handled")(args);
  }
  const b = backend as Backend;
  const out = b.makeOutput(
    [info.batchSize, info.outHeight, info.outWidth, info.outChannels],
    "float32",
  );
  if (tf.util.sizeFromShape(out.shape) === 0) return out;
  k.run(AVG_POOL, {
    ...poolGeometry(info),
    x: offset(b, x),
    out: offset(b, out),
  });
  return out;
}

function avgPoolGradKernel(
  { inputs, backend, attrs }: KernelArgs,
  k: HeapKernels,
) {
  const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
  const a = attrs as unknown as tf.AvgPoolGradAttrs;
  requireFloat("AvgPoolGrad", dy);
  const info = tf.backend_util.computePool2DInfo(
    input.shape as Shape4,
    a.filterSize,
    a.strides,
    1,
    a.pad,
  );
  const b = backend as Backend;
  const out = b.makeOutput(input.shape.slice(), "float32");
  if (tf.util.sizeFromShape(input.shape) === 0) return out;
  k.run(AVGPOOL_GRAD, {
    ...poolGeometry(info),
    dy: offset(b, dy),
    dx: offset(b, out),
    scale: 1 / (info.filterHeight * info.filterWidth),
  });
  return out;
}

/** `AvgPool` and `AvgPoolGrad`, threaded (tfjs' run on one thread). */
export const avgPoolKernels: KernelDecl = {
  family: "avg_pool",
  backend: "wasm",
  kernels: {
    [tf.AvgPool]: avgPoolKernel,
    [tf.AvgPoolGrad]: avgPoolGradKernel,
  },
  entries: [AVG_POOL, AVGPOOL_GRAD],
};
