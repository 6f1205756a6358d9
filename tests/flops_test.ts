/**
 * The FLOP counter of the benchmarks (bench/_flops.ts) against hand counts:
 * a small model with every kind of layer it counts, the seed CNN (the
 * 53.16 MFLOP the tables used to hard-code) and the fast network at width
 * 0.5 (the train-fast rows).
 */

import assert from "node:assert/strict";
import {
  benchTaskFlops,
  forwardFlops,
  trainingFlops,
} from "../bench/_flops.ts";
import { FORWARD_MFLOP } from "../bench/_table.ts";
import { BatchNormalization } from "../src/nn/batch_normalization.ts";
import { cifarCnn } from "../src/nn/cifar_cnn.ts";
import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { DepthwiseConv2D } from "../src/nn/depthwise_conv2d.ts";
import { fastNet } from "../src/nn/fast_net.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { SeparableConv2D } from "../src/nn/separable_conv2d.ts";
import { Sequential } from "../src/nn/sequential.ts";
import { initRuntime } from "../src/runtime/init.ts";

await initRuntime({ backend: "cpu" });

Deno.test("flops: a small model of every counted layer, by hand", () => {
  const model = new Sequential([
    // 9x9x4 -> 9x9x8: 81 positions x 3x3x4 x 8 = 23,328 MACs
    new Conv2D({ filters: 8, kernelSize: 3, padding: "same" }),
    // stride 2, valid -> 4x4x6: 16 x 3x3x8 x 6 = 6,912
    new Conv2D({ filters: 6, kernelSize: 3, strides: 2 }),
    // depth multiplier 2 -> 4x4x12: 16 x 3x3 x 6 x 2 = 1,728
    new DepthwiseConv2D({ kernelSize: 3, padding: "same", depthMultiplier: 2 }),
    // 2x2 valid -> 3x3x5: depthwise 9 x 2x2 x 12 = 432, pointwise 9 x 12 x 5 = 540
    new SeparableConv2D({ filters: 5, kernelSize: 2 }),
    new BatchNormalization({}), // not counted
    new Flatten(),
    // 45 x 10 = 450
    new Dense({ units: 10 }),
  ], { inputShape: [9, 9, 4] });
  try {
    const macs = 23_328 + 6_912 + 1_728 + 432 + 540 + 450;
    assert.equal(forwardFlops(model), 2 * macs);
    assert.equal(trainingFlops(model), 6 * macs);
  } finally {
    model.dispose();
  }
});

Deno.test("flops: the seed CNN is 53.16 MFLOP forward, the fast network at width 0.5 66.13", async () => {
  const seed = cifarCnn({ seed: 0 });
  // conv 3->32 at 32x32, 32->32 at 32x32, 32->64 and 64->64 at 16x16, 3x3;
  // dense 4096->512, 512->10.
  const seedMacs = 1024 * 9 * (3 * 32 + 32 * 32) +
    256 * 9 * (32 * 64 + 64 * 64) + 4096 * 512 + 512 * 10;
  assert.equal(forwardFlops(seed), 2 * seedMacs);
  assert.equal(Number((forwardFlops(seed) / 1e6).toFixed(2)), FORWARD_MFLOP);
  seed.dispose();
  const fast = fastNet({ width: 0.5 });
  // stem 2x2 3->24 at 31x31; groups 32, 128, 128 at 31, 15, 7 (conv1) and
  // 15, 7, 3 (conv2, after the pool); head 128->10.
  const fastMacs = 961 * 4 * 3 * 24 +
    961 * 9 * 24 * 32 + 225 * 9 * 32 * 32 +
    225 * 9 * 32 * 128 + 49 * 9 * 128 * 128 +
    49 * 9 * 128 * 128 + 9 * 9 * 128 * 128 +
    128 * 10;
  assert.equal(forwardFlops(fast), 2 * fastMacs);
  fast.dispose();
  const tasks = await benchTaskFlops();
  assert.equal(tasks.infer, (2 * seedMacs) / 1e6);
  assert.equal(tasks.latency, tasks.infer);
  assert.equal(tasks.train, 3 * tasks.infer);
  assert.equal(tasks["train-fast"], (6 * fastMacs) / 1e6);
});
