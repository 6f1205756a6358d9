/**
 * The benchmark's ONNX export: layout conversions, and a small model of
 * every supported layer run by onnxruntime-web (WebAssembly, 1 thread)
 * against simdnet on the tfjs `cpu` backend.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import * as ort from "onnxruntime-web";
import {
  hwcRowsToChw,
  hwioToOihw,
  ONNX_INPUT,
  ONNX_OUTPUT,
  sequentialToOnnx,
} from "../bench/_onnx_export.ts";
import { ProtoWriter } from "../bench/_protobuf.ts";
import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { Dropout } from "../src/nn/dropout.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { MaxPooling2D } from "../src/nn/max_pooling2d.ts";
import { Sequential } from "../src/nn/sequential.ts";

tf.enableProdMode(); // no per-op checks, no tfjs-node banner
await tf.setBackend("cpu");

Deno.test("bench onnx: protobuf varints, negative int64 and nested messages", () => {
  const bytes = new ProtoWriter().int(1, 300).int(2, -1).message(
    3,
    (w) => w.string(1, "é"),
  ).finish();
  assert.deepEqual(
    [...bytes],
    [
      0x08,
      0xac,
      0x02,
      0x10,
      ...Array(9).fill(0xff),
      0x01,
      0x1a,
      0x04,
      0x0a,
      0x02,
      0xc3,
      0xa9,
    ],
  );
});

Deno.test("bench onnx: HWIO to OIHW and HWC rows to CHW rows", () => {
  // kernel [kh=1, kw=2, cin=2, cout=3], value = 1000y + 100x + 10i + o
  const hwio = new Float32Array(12);
  for (let x = 0; x < 2; x++) {
    for (let i = 0; i < 2; i++) {
      for (let o = 0; o < 3; o++) {
        hwio[(x * 2 + i) * 3 + o] = 100 * x + 10 * i + o;
      }
    }
  }
  const oihw = hwioToOihw(hwio, [1, 2, 2, 3]);
  // [o][i][y][x]
  assert.equal(oihw[((2 * 2 + 1) * 1 + 0) * 2 + 1], 100 + 10 + 2);
  assert.equal(oihw[((1 * 2 + 0) * 1 + 0) * 2 + 0], 1);
  // rows of a [h=1, w=2, c=2] input, 1 unit: HWC order (x0c0, x0c1, x1c0, x1c1)
  const rows = hwcRowsToChw(Float32Array.of(0, 1, 10, 11), [1, 2, 2], 1);
  assert.deepEqual([...rows], [0, 10, 1, 11]);
});

Deno.test({
  name: "bench onnx: onnxruntime-web computes what simdnet computes",
  // onnxruntime-web keeps its WebAssembly instance and timers for the process.
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const model = new Sequential([
      new Conv2D({
        filters: 4,
        kernelSize: 3,
        padding: "same",
        activation: "relu",
      }),
      new MaxPooling2D({ poolSize: 2 }),
      new Dropout(0.25),
      new Conv2D({ filters: 5, kernelSize: 2, padding: "same" }),
      new Flatten(),
      new Dense({ units: 6, activation: "relu" }),
      new Dense({ units: 3, activation: "softmax" }),
    ], { inputShape: [6, 6, 2], seed: 3 });
    try {
      const bytes = sequentialToOnnx(model, await model.getWeights());
      const x = tf.randomUniform([2, 6, 6, 2], 0, 1, "float32", 5);
      const want = (await model.predict(x).data()) as Float32Array;
      ort.env.wasm.numThreads = 1;
      const session = await ort.InferenceSession.create(bytes, {
        executionProviders: ["wasm"],
      });
      const out = await session.run({
        [ONNX_INPUT]: new ort.Tensor(
          "float32",
          (await x.data()) as Float32Array,
          [2, 6, 6, 2],
        ),
      });
      const got = out[ONNX_OUTPUT]!;
      assert.deepEqual(got.dims, [2, 3]);
      const data = got.data as Float32Array;
      for (let i = 0; i < want.length; i++) {
        assert.ok(
          Math.abs(data[i]! - want[i]!) < 1e-5,
          `output ${i}: ${data[i]} vs ${want[i]}`,
        );
      }
      await session.release();
      x.dispose();
    } finally {
      model.dispose();
    }
  },
});
