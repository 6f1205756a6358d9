/**
 * FLOPs of a model, counted from its layers rather than written down, so
 * that every network the benchmarks train (the seed CNN, the fast recipe's
 * network) gets its own effective GFLOP/s. The count is that of the direct
 * convolution and of the matrix product: 2 FLOPs (a multiply and an add)
 * per multiply-accumulate of every Conv2D, DepthwiseConv2D,
 * SeparableConv2D and Dense; element-wise layers, pooling and batch norm
 * are left out, as is usual (they are a few % and memory-bound). Winograd
 * does fewer multiplies than counted: the figure is *effective* GFLOP/s,
 * what a direct implementation would have to reach for the same speed.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { cifarCnn } from "../src/nn/cifar_cnn.ts";
import { fastNet } from "../src/nn/fast_net.ts";
import { isMergeLayer } from "../src/nn/layer.ts";
import type { Model } from "../src/nn/model.ts";
import { initRuntime } from "../src/runtime/init.ts";
import { FAST_BENCH_WIDTH } from "./_protocol.ts";
import type { TaskFlops } from "./_table.ts";

// Weights that multiply-accumulate once per output position: the kernels
// of convolutions (with their output's height x width positions) and of
// Dense (one position). Biases, batch-norm parameters are not.
const KERNELS = /\/(kernel|depthwise_kernel|pointwise_kernel)$/;

/**
 * Forward FLOPs of one input through `model`: for each kernel weight, its
 * size times the number of output positions of its layer (the output's
 * elements over its channels), times 2.
 */
export function forwardFlops(model: Model): number {
  let macs = 0;
  model.layers.forEach((layer, i) => {
    if (isMergeLayer(layer)) return;
    const output = model.outputShapes[i] ?? [];
    // Every axis but the channels: 1 for Dense, oh x ow for a convolution.
    const positions = output.slice(0, -1).reduce((a, b) => a * b, 1);
    for (const w of layer.weights) {
      if (KERNELS.test(w.name)) macs += w.variable.size * positions;
    }
  });
  return 2 * macs;
}

/**
 * FLOPs of one training image: forward, the input gradient and the weight
 * gradient, each as many as the forward pass, so 3x (the usual count; the
 * first layer's input gradient and a frozen layer's weight gradient, which
 * need not be computed, are counted all the same).
 */
export function trainingFlops(model: Model): number {
  return 3 * forwardFlops(model);
}

/**
 * MFLOP per image of each benchmark task, counted from the models the
 * workers build: the seed CNN (train, infer, latency) and the fast
 * network at {@linkcode FAST_BENCH_WIDTH} (train-fast). Builds them on the
 * tfjs `cpu` backend (weights only, no step), then frees them.
 */
export async function benchTaskFlops(): Promise<TaskFlops> {
  // Only when no backend runs yet: tf.getBackend() would start the best
  // registered one (wasm and its thread pool) just to hold the weights.
  if (!tf.engine().backendName) await initRuntime({ backend: "cpu" });
  const seed = cifarCnn({ seed: 0 });
  const fast = fastNet({ width: FAST_BENCH_WIDTH });
  try {
    const forward = forwardFlops(seed) / 1e6;
    return {
      train: 3 * forward,
      infer: forward,
      latency: forward,
      "train-fast": trainingFlops(fast) / 1e6,
    };
  } finally {
    seed.dispose();
    fast.dispose();
  }
}
