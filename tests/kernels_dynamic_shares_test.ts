/**
 * The kernels that deal out their work as the threads go (`claim` in
 * wasm/assembly/params.ts: the Winograd convolution, forward and input
 * gradient) must give the same bits however the units fall to the threads:
 * on every call (each deals them out anew) and at 1 and 2 threads. Fixed
 * seeds give the same weights only if they do.
 */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { setKernelThreads } from "../src/runtime/init.ts";
import { Rng } from "../src/util/random.ts";
import { randomValues, startWasm2 } from "./_kernel_compare.ts";

await startWasm2();
const rng = new Rng(2026_12_04);

function tensor(shape: number[]): tf.Tensor {
  const { v } = randomValues(rng, shape);
  return tf.tensor(v, shape);
}

function conv(x: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Tensor {
  return tf.fused.conv2d({
    x: x as tf.Tensor4D,
    filter: w as tf.Tensor4D,
    strides: 1,
    pad: "same",
    bias: b,
    activation: "relu",
  });
}

function inputGrad(dy: tf.Tensor, w: tf.Tensor, xShape: number[]): tf.Tensor {
  return tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: w }, {
    strides: 1,
    pad: "same",
    dataFormat: "NHWC",
    inputShape: xShape,
  }) as tf.Tensor;
}

/** `f`'s output at 1 thread, then `calls` times at 2: all the same bits. */
function assertSameBits(what: string, f: () => tf.Tensor, calls = 6): void {
  const bits = (t: tf.Tensor) => {
    const v = new Uint32Array((t.dataSync() as Float32Array).slice().buffer);
    t.dispose();
    return v;
  };
  setKernelThreads(1);
  const one = bits(f());
  assert.equal(setKernelThreads(2), 2, "the test needs 2 kernel threads");
  for (let i = 0; i < calls; i++) {
    const two = bits(f());
    const diff = two.findIndex((v, j) => v !== one[j]);
    assert.equal(diff, -1, `${what}, call ${i}: element ${diff} differs`);
  }
}

Deno.test("dynamically shared kernels: the same bits on every call and at 1 and 2 threads", () => {
  // Winograd (3x3, stride 1): 10 x 6 x 6 tiles, not a multiple of a block.
  const x = tensor([10, 23, 21, 16]);
  const w = tensor([3, 3, 16, 24]);
  const b = tensor([24]);
  const dy = tensor([10, 23, 21, 24]);
  assertSameBits("Winograd forward", () => conv(x, w, b));
  assertSameBits("Winograd input gradient", () => inputGrad(dy, w, x.shape));
  tf.dispose([x, w, b, dy]);
});
