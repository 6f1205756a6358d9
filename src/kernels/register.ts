/**
 * Registers simdnet's kernels for the tfjs `wasm` backend: the missing
 * `Conv2DBackpropFilter`; faster `Conv2DBackpropInput`, `MaxPoolGrad` and
 * `BatchMatMul` (all transpose variants) than tfjs' scalar loops; threaded
 * `FusedConv2D`, `_FusedMatMul`, `MaxPool` and bias-gradient `Sum`, so that a training
 * step never wakes XNNPACK's spinning thread pool (3x3 stride-1 layers and
 * their gradients run as Winograd F(4x4, 3x3)); a zero-copy `Identity`; and
 * simdnet's own fused Adam update, dropout masks and relu gradient
 * (src/kernels/custom_kernels.ts).
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import type { HeapKernels } from "./wasm_kernels.ts";
import {
  type Backend,
  batchMatMul,
  biasAct,
  conv2D,
  conv2DBackpropFilter,
  conv2DBackpropInput,
  dropoutMask,
  fusedAdam,
  maxPool,
  maxPoolGrad,
  reluGrad,
  requireFloat,
  requireNhwc,
  sumLeading,
  winogradFits,
} from "./ops.ts";
import {
  DROPOUT_MASK,
  type DropoutMaskAttrs,
  FUSED_ADAM,
  type FusedAdamAttrs,
  RELU_GRAD,
} from "./custom_kernels.ts";

// Returns tfjs' own implementation, for the cases simdnet's does not cover.
const stockKernels = new Map<string, tf.KernelFunc>();

// Below this many output pixels a convolution is too small to split.
const SMALL_CONV_ROWS = 4096;
// Below this many rows a fused matmul stays on XNNPACK (see _FusedMatMul).
const SMALL_MATMUL_ROWS = 16;

/** tfjs' own wasm implementation of a kernel simdnet replaced (for benchmarks). */
export function stockWasmKernel(kernelName: string): tf.KernelFunc | undefined {
  return stockKernels.get(kernelName);
}

function replaceKernel(
  kernelName: string,
  kernelFunc: tf.KernelFunc,
): tf.KernelFunc | null {
  const stock = tf.getKernel(kernelName, "wasm");
  if (stock != null && !stockKernels.has(kernelName)) {
    stockKernels.set(kernelName, stock.kernelFunc);
  }
  if (stock != null) tf.unregisterKernel(kernelName, "wasm");
  tf.registerKernel({ kernelName, backendName: "wasm", kernelFunc });
  return stock?.kernelFunc ?? null;
}

function fallback(
  stock: tf.KernelFunc | null,
  kernel: string,
  why: string,
): tf.KernelFunc {
  if (stock) return stock;
  throw new Error(
    `simdnet ${kernel}: ${why}, and tfjs has no wasm kernel for it`,
  );
}

const registered = new WeakSet<HeapKernels>();

/** Installs the kernels above as the `wasm` backend's implementations. */
export function registerWasmKernels(k: HeapKernels): void {
  if (registered.has(k)) return;
  registered.add(k);
  replaceKernel(tf.Conv2DBackpropFilter, ({ inputs, backend, attrs }) => {
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const a = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
    requireFloat("Conv2DBackpropFilter", x, dy);
    requireNhwc("Conv2DBackpropFilter", a.dataFormat);
    const info = tf.backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      a.filterShape,
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
    );
    return conv2DBackpropFilter(k, backend as Backend, x, dy, info);
  });
  replaceKernel(tf.Conv2DBackpropInput, ({ inputs, backend, attrs }) => {
    const { dy, filter } = inputs as {
      dy: tf.TensorInfo;
      filter: tf.TensorInfo;
    };
    const a = attrs as unknown as tf.Conv2DBackpropInputAttrs;
    requireFloat("Conv2DBackpropInput", dy, filter);
    requireNhwc("Conv2DBackpropInput", a.dataFormat);
    const info = tf.backend_util.computeConv2DInfo(
      a.inputShape,
      filter.shape as [number, number, number, number],
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
    );
    return conv2DBackpropInput(k, backend as Backend, dy, filter, info);
  });
  replaceKernel(tf.BatchMatMul, ({ inputs, backend, attrs }) => {
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
    requireFloat("BatchMatMul", a, b);
    return batchMatMul(k, backend as Backend, a, b, transposeA, transposeB);
  });
  replaceKernel(tf.MaxPoolGrad, ({ inputs, backend, attrs }) => {
    const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
    const a = attrs as unknown as tf.MaxPoolGradAttrs;
    requireFloat("MaxPoolGrad", dy, input);
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      a.filterSize,
      a.strides,
      1,
      a.pad,
      a.dimRoundingMode,
    );
    return maxPoolGrad(k, backend as Backend, dy, input, info);
  });
  let stockMaxPool: tf.KernelFunc | null = null;
  stockMaxPool = replaceKernel(tf.MaxPool, (args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs as { x: tf.TensorInfo };
    const a = attrs as unknown as tf.MaxPoolAttrs;
    const info = tf.backend_util.computePool2DInfo(
      x.shape as [number, number, number, number],
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
      return fallback(stockMaxPool, "MaxPool", "only float32 without dilation")(
        args,
      );
    }
    return maxPool(k, backend as Backend, x, info);
  });
  let stockFusedConv: tf.KernelFunc | null = null;
  stockFusedConv = replaceKernel(tf.FusedConv2D, (args) => {
    const { inputs, backend, attrs } = args;
    const { x, filter, bias, preluActivationWeights } = inputs as Record<
      string,
      tf.TensorInfo | undefined
    >;
    const a = attrs as unknown as tf.FusedConv2DAttrs;
    const act = a.activation ?? "linear";
    const dil = typeof a.dilations === "number"
      ? [a.dilations, a.dilations]
      : a.dilations ?? [1, 1];
    if (
      (act !== "linear" && act !== "relu") || preluActivationWeights ||
      (a.dataFormat !== undefined && a.dataFormat !== "NHWC") ||
      x!.dtype !== "float32" ||
      (bias && bias.shape.length !== 1)
    ) {
      return fallback(
        stockFusedConv,
        "FusedConv2D",
        `activation ${act} is not fused here`,
      )(args);
    }
    const info = tf.backend_util.computeConv2DInfo(
      x!.shape as [number, number, number, number],
      filter!.shape as [number, number, number, number],
      a.strides,
      dil as [number, number],
      a.pad,
      a.dimRoundingMode,
    );
    // Small batches (inference, latency) run faster on XNNPACK, which keeps
    // its packed weights between calls; large ones, and every convolution
    // Winograd fits, go to our threaded pool.
    if (
      stockFusedConv && !winogradFits(info) &&
      info.batchSize * info.outHeight * info.outWidth < SMALL_CONV_ROWS
    ) {
      return stockFusedConv(args);
    }
    return conv2D(
      k,
      backend as Backend,
      x!,
      filter!,
      bias ?? null,
      act === "relu",
      info,
    );
  });
  let stockFusedMatMul: tf.KernelFunc | null = null;
  stockFusedMatMul = replaceKernel(tf._FusedMatMul, (args) => {
    const { inputs, backend, attrs } = args;
    const { a, b, bias, preluActivationWeights } = inputs as Record<
      string,
      tf.TensorInfo | undefined
    >;
    const at = attrs as unknown as tf._FusedMatMulAttrs;
    const act = at.activation ?? "linear";
    const n = at.transposeB
      ? b!.shape[b!.shape.length - 2]!
      : b!.shape[b!.shape.length - 1]!;
    if (
      (act !== "linear" && act !== "relu") || preluActivationWeights ||
      a!.dtype !== "float32" ||
      (bias && (bias.shape.length !== 1 || bias.shape[0] !== n))
    ) {
      return fallback(
        stockFusedMatMul,
        "_FusedMatMul",
        `activation ${act} is not fused here`,
      )(args);
    }
    // A few rows (batch-1 inference) would repack the whole weight matrix
    // per call; XNNPACK keeps it packed. Only untransposed: tfjs' own kernel
    // gets transposeB wrong for small shapes (kernels_test caught it).
    const m = a!.shape[a!.shape.length - 2]!;
    if (
      stockFusedMatMul && !at.transposeA && !at.transposeB &&
      m < SMALL_MATMUL_ROWS
    ) {
      return stockFusedMatMul(args);
    }
    const out = batchMatMul(
      k,
      backend as Backend,
      a!,
      b!,
      at.transposeA,
      at.transposeB,
    );
    const rows = tf.util.sizeFromShape(out.shape) / n;
    biasAct(k, backend as Backend, out, rows, n, bias ?? null, act === "relu");
    return out;
  });
  let stockSum: tf.KernelFunc | null = null;
  stockSum = replaceKernel(tf.Sum, (args) => {
    const { inputs, backend, attrs } = args;
    const { x } = inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const leading = rank >= 2 && axes.length === rank - 1 &&
      axes.every((v, i) => v === i);
    if (!leading || x.dtype !== "float32") {
      return fallback(
        stockSum,
        "Sum",
        "only sums over all leading axes are handled",
      )(args);
    }
    return sumLeading(k, backend as Backend, x, keepDims);
  });
  replaceKernel(FUSED_ADAM, ({ inputs, backend, attrs }) => {
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
  });
  replaceKernel(RELU_GRAD, ({ inputs, backend }) => {
    const { dy, y } = inputs as Record<string, tf.TensorInfo>;
    requireFloat("ReluGrad", dy!, y!);
    return reluGrad(k, backend as Backend, dy!, y!);
  });
  replaceKernel(
    DROPOUT_MASK,
    ({ backend, attrs }) =>
      dropoutMask(k, backend as Backend, attrs as unknown as DropoutMaskAttrs),
  );
  // tfjs' wasm Identity copies the tensor; gradients call it on every
  // activation. Sharing the buffer (as Reshape and the cpu backend do) is
  // safe because no kernel writes into its inputs.
  let stockIdentity: tf.KernelFunc | null = null;
  stockIdentity = replaceKernel(tf.Identity, (args) => {
    const { inputs, backend } = args;
    const { x } = inputs as { x: tf.TensorInfo };
    if (x.dtype === "string") {
      return fallback(stockIdentity, "Identity", "strings are copied")(args);
    }
    (backend as Backend & { incRef(id: tf.DataId): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape.slice(), dtype: x.dtype };
  });
}
