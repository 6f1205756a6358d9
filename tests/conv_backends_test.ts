/**
 * The convolution and pooling layers train on every backend simdnet runs:
 * a Sequential of all of them gives tfjs-layers' outputs and gradients on
 * the tfjs `cpu` backend (which has the depthwise backprop kernels that
 * wasm lacks) and on WebGPU (a software adapter here, lavapipe in CI).
 */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { AveragePooling2D } from "../src/nn/average_pooling2d.ts";
import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { DepthwiseConv2D } from "../src/nn/depthwise_conv2d.ts";
import { GlobalMaxPooling2D } from "../src/nn/global_pooling2d.ts";
import type { Layer } from "../src/nn/layer.ts";
import { MaxPooling2D } from "../src/nn/max_pooling2d.ts";
import { SeparableConv2D } from "../src/nn/separable_conv2d.ts";
import { registerGradients } from "../src/runtime/gradients.ts";
import {
  probeWebGpu,
  startWebGpu,
  stopWebGpu,
  WEBGPU_BACKEND,
} from "../src/runtime/webgpu.ts";
import {
  avgPoolGradFormula,
  type Case,
  type ChildResult,
  makeCase,
  type Pool,
  relErr,
  simdnetRunAsync,
  tflReference,
} from "./_convpool_reference.ts";

registerGradients();
await tf.setBackend("cpu");

function layers(): Layer[] {
  return [
    new Conv2D({
      filters: 3,
      kernelSize: [3, 2],
      strides: [2, 1],
      padding: "same",
      activation: "relu",
    }),
    new DepthwiseConv2D({
      kernelSize: 2,
      strides: 2,
      depthMultiplier: 2,
      padding: "same",
      activation: "sigmoid",
    }),
    new SeparableConv2D({
      filters: 4,
      kernelSize: 2,
      depthMultiplier: 2,
      padding: "same",
    }),
    new MaxPooling2D({ poolSize: 2, strides: 1 }),
    new AveragePooling2D({ poolSize: [2, 1], strides: 1 }),
    new GlobalMaxPooling2D(),
    new Dense({ units: 3 }),
  ];
}

async function assertClose(
  c: Case,
  ref: ChildResult,
  backend: string,
): Promise<void> {
  const got = await simdnetRunAsync(c);
  assert.equal(tf.getBackend(), backend);
  assert.deepEqual(got.yShape, ref.yShape);
  assert.ok(relErr(got.y, ref.y) <= 1e-4, `${backend}: output`);
  got.grads.forEach((g, k) => {
    assert.ok(g.some((v) => v !== 0), `${backend}: gradient ${k} is all zero`);
    const e = relErr(g, ref.grads[k]!);
    assert.ok(e <= 1e-4, `${backend}: gradient ${k} differs by ${e}`);
  });
}

const c = await makeCase("all layers", layers(), [12, 9, 2], 2, 5);
const [ref] = await tflReference([c]);

// A 'same' average pool: tfjs' AvgPoolGrad kernels divide border windows
// by the full window on every backend, which simdnet's gradient corrects;
// its reference is the formula.
const pool: Pool = {
  poolSize: [3, 2],
  strides: [2, 2],
  padding: "same",
  inputShape: [7, 5, 3],
  batch: 2,
};
const avg = await makeCase(
  "same average pool",
  [new AveragePooling2D(pool)],
  pool.inputShape,
  pool.batch,
  6,
);
const [avgRef] = await tflReference([avg]);
avgRef!.grads[0] = Array.from(avgPoolGradFormula(pool, avg.r));

async function assertBoth(backend: string): Promise<void> {
  await assertClose(c, ref!, backend);
  await assertClose(avg, avgRef!, backend);
}

Deno.test("conv backends: the new layers' outputs and gradients on cpu match tfjs-layers", async () => {
  assert.ok(tf.getKernel(tf.DepthwiseConv2dNativeBackpropFilter, "cpu"));
  await assertBoth("cpu");
});

const probe = await probeWebGpu();
const noAdapter = probe.available
  ? undefined
  : `no WebGPU adapter here: ${probe.reason}`;

Deno.test({
  name:
    `conv backends: the new layers' outputs and gradients on webgpu match tfjs-layers${
      noAdapter ? ` (ignored: ${noAdapter})` : ""
    }`,
  ignore: noAdapter !== undefined,
  fn: async () => {
    const forward = tf.env().getBool("WEBGPU_CPU_FORWARD");
    try {
      await startWebGpu({ allowSoftware: true });
      // Small tensors would otherwise be computed by tfjs's CPU fallback.
      tf.env().set("WEBGPU_CPU_FORWARD", false);
      await assertBoth(WEBGPU_BACKEND);
    } finally {
      tf.env().set("WEBGPU_CPU_FORWARD", forward);
      stopWebGpu();
    }
  },
});
