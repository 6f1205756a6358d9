/**
 * Conv2D (strides, any kernel size, both paddings), DepthwiseConv2D and
 * SeparableConv2D against tfjs-layers 4.22 on the cpu backend: the same
 * model.json and weights give the same outputs and gradients (input and
 * every weight) on simdnet's wasm backend at 1 and 2 threads, on random
 * shapes; the model.json tfjs-layers writes back loads in simdnet with the
 * same config.
 */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { AveragePooling2D } from "../src/nn/average_pooling2d.ts";
import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { Sequential } from "../src/nn/sequential.ts";
import { fit } from "../src/train/fit.ts";
import { GlobalAveragePooling2D } from "../src/nn/global_pooling2d.ts";
import { MaxPooling2D } from "../src/nn/max_pooling2d.ts";
import { DepthwiseConv2D } from "../src/nn/depthwise_conv2d.ts";
import type { FusedActivation } from "../src/nn/fused.ts";
import type { Layer } from "../src/nn/layer.ts";
import { ModelFormatError, modelFromArtifacts } from "../src/nn/model_io.ts";
import { SeparableConv2D } from "../src/nn/separable_conv2d.ts";
import { createRng, type Rng } from "../src/util/random.ts";
import {
  assertMatches,
  type Case,
  initWasm,
  makeCase,
  randInt,
  tflReference,
} from "./_convpool_reference.ts";
import { assertRoundTrip } from "./_convpool_roundtrip.ts";
import { quadrants } from "./_train_fixtures.ts";

await initWasm();

const ACTIVATIONS: FusedActivation[] = [
  "linear",
  "relu",
  "relu6",
  "sigmoid",
  "elu",
];

interface Geometry {
  kernelSize: [number, number];
  strides: [number, number];
  padding: "same" | "valid";
  inputShape: number[];
  batch: number;
}

function geometry(rng: Rng): Geometry {
  const kernelSize: [number, number] = [randInt(rng, 1, 5), randInt(rng, 1, 5)];
  const strides: [number, number] = [randInt(rng, 1, 3), randInt(rng, 1, 3)];
  const padding = rng.next() < 0.5 ? "same" : "valid";
  const h = randInt(rng, kernelSize[0], 11);
  const w = randInt(rng, kernelSize[1], 11);
  return {
    kernelSize,
    strides,
    padding,
    inputShape: [h, w, randInt(rng, 1, 5)],
    batch: randInt(rng, 1, 3),
  };
}

const STRIDE_ABOVE_KERNEL: Geometry = {
  kernelSize: [1, 3],
  strides: [3, 1],
  padding: "same",
  inputShape: [11, 10, 2],
  batch: 2,
};

function describeCase(kind: string, g: Geometry, extra: string): string {
  return `${kind} in ${g.batch}x${g.inputShape.join("x")} k${g.kernelSize} ` +
    `s${g.strides} ${g.padding} ${extra}`;
}

async function cases(
  count: number,
  seed: number,
  make: (rng: Rng, g: Geometry) => [Layer, string],
): Promise<Case[]> {
  const rng = createRng(seed);
  const out: Case[] = [];
  for (let i = 0; i < count; i++) {
    // The first case has a stride above the kernel size with 'same'
    // padding, which tfjs-backend-wasm's own kernels get wrong (fused.ts).
    const g = i === 0 ? STRIDE_ABOVE_KERNEL : geometry(rng);
    const [layer, label] = make(rng, g);
    out.push(
      await makeCase(label, [layer], g.inputShape, g.batch, seed * 100 + i),
    );
  }
  return out;
}

async function checkAll(list: Case[]): Promise<void> {
  const refs = await tflReference(list);
  list.forEach((c, i) => {
    assertMatches(c, refs[i]!);
    assertRoundTrip(c, refs[i]!);
  });
}

Deno.test("conv: Conv2D with any kernel size, strides and padding matches tfjs-layers", async () => {
  await checkAll(
    await cases(12, 1, (rng, g) => {
      const filters = randInt(rng, 1, 6);
      const activation = rng.next() < 0.5 ? "relu" : "linear";
      const useBias = rng.next() < 0.8;
      return [
        new Conv2D({ filters, activation, useBias, ...g }),
        describeCase("Conv2D", g, `f${filters} ${activation} bias ${useBias}`),
      ];
    }),
  );
});

Deno.test("conv: DepthwiseConv2D with multipliers, strides, padding and activations matches tfjs-layers", async () => {
  await checkAll(
    await cases(12, 2, (rng, g) => {
      const depthMultiplier = randInt(rng, 1, 3);
      const activation = ACTIVATIONS[rng.int(ACTIVATIONS.length)]!;
      const useBias = rng.next() < 0.8;
      return [
        new DepthwiseConv2D({ depthMultiplier, activation, useBias, ...g }),
        describeCase(
          "DepthwiseConv2D",
          g,
          `m${depthMultiplier} ${activation} bias ${useBias}`,
        ),
      ];
    }),
  );
});

Deno.test("conv: SeparableConv2D matches tfjs-layers", async () => {
  await checkAll(
    await cases(10, 3, (rng, g) => {
      const filters = randInt(rng, 1, 6);
      const depthMultiplier = randInt(rng, 1, 2);
      const activation = ACTIVATIONS[rng.int(ACTIVATIONS.length)]!;
      const useBias = rng.next() < 0.8;
      return [
        new SeparableConv2D({
          filters,
          depthMultiplier,
          activation,
          useBias,
          ...g,
        }),
        describeCase(
          "SeparableConv2D",
          g,
          `f${filters} m${depthMultiplier} ${activation} bias ${useBias}`,
        ),
      ];
    }),
  );
});

Deno.test("conv: a small Sequential of every new layer matches tfjs-layers, parameter count included", async () => {
  const layers: Layer[] = [
    new Conv2D({
      filters: 4,
      kernelSize: 3,
      strides: 2,
      padding: "same",
      activation: "relu",
    }),
    new DepthwiseConv2D({
      kernelSize: 3,
      depthMultiplier: 2,
      padding: "same",
      activation: "relu6",
    }),
    new MaxPooling2D({ poolSize: 3, strides: 1, padding: "same" }),
    new SeparableConv2D({ filters: 5, kernelSize: [2, 3], activation: "elu" }),
    // 'valid': tfjs' gradient of a 'same' average pool is wrong (see
    // pooling_test.ts, which checks ours against the formula).
    new AveragePooling2D({ poolSize: 2, strides: 1 }),
    new GlobalAveragePooling2D(),
    new Dense({ units: 3 }),
  ];
  const c = await makeCase("every layer", layers, [13, 12, 3], 3, 77);
  const [ref] = await tflReference([c]);
  assertMatches(c, ref!);
  assertRoundTrip(c, ref!);
  const model = modelFromArtifacts(c.json, c.weights);
  assert.equal(model.countParams(), ref!.params);
  model.dispose();
});

Deno.test("conv: a model of the new layers trains with fit on wasm: the loss falls and accuracy beats chance", async () => {
  const model = new Sequential([
    new Conv2D({
      filters: 8,
      kernelSize: 3,
      padding: "same",
      activation: "relu",
    }),
    new DepthwiseConv2D({ kernelSize: 3, padding: "same", activation: "relu" }),
    new SeparableConv2D({
      filters: 8,
      kernelSize: 3,
      strides: 2,
      padding: "same",
      activation: "relu",
    }),
    new AveragePooling2D({ poolSize: 2, strides: 1, padding: "same" }),
    new Flatten(),
    new Dense({ units: 4, activation: "softmax" }),
  ], { inputShape: [8, 8, 3], seed: 3 });
  try {
    const history = await fit(model, quadrants(256, 2), {
      epochs: 3,
      batchSize: 16,
      learningRate: 0.01,
      verbose: 0,
      seed: 3,
    });
    const first = history.loss[0]!, last = history.loss.at(-1)!;
    assert.ok(last < 0.8 * first, `loss ${first} -> ${last}`);
    // Four classes: chance is 0.25.
    assert.ok(history.accuracy.at(-1)! > 0.5, `accuracy ${history.accuracy}`);
  } finally {
    model.dispose();
  }
});

Deno.test("conv: depthwise gradients on wasm (simdnet's backprop kernels) agree with cpu's (tfjs')", async () => {
  // tfjs-backend-wasm 4.22 has neither DepthwiseConv2dNativeBackprop
  // kernel; simdnet's table adds both, and the gradient configs call them.
  for (const backend of ["wasm", "cpu"]) {
    assert.ok(tf.getKernel(tf.DepthwiseConv2dNativeBackpropInput, backend));
    assert.ok(tf.getKernel(tf.DepthwiseConv2dNativeBackpropFilter, backend));
  }
  const rng = createRng(4);
  for (let i = 0; i < 6; i++) {
    const g = geometry(rng);
    const m = randInt(rng, 1, 3);
    const xShape = [g.batch, ...g.inputShape];
    const fShape = [...g.kernelSize, g.inputShape[2]!, m];
    const xv = Array.from(
      { length: xShape.reduce((a, b) => a * b) },
      () => 2 * rng.next() - 1,
    );
    const fv = Array.from(
      { length: fShape.reduce((a, b) => a * b) },
      () => 2 * rng.next() - 1,
    );
    // Explicit paddings: tfjs-backend-wasm's forward kernel gets some
    // 'same' cases wrong (see fused.ts); the gradients are tested here.
    const { top, bottom, left, right } = tf.backend_util.computeConv2DInfo(
      xShape as [number, number, number, number],
      fShape as [number, number, number, number],
      g.strides,
      1,
      g.padding,
      undefined,
      true,
    ).padInfo;
    const pad: [
      [number, number],
      [number, number],
      [number, number],
      [number, number],
    ] = [[0, 0], [top, bottom], [left, right], [0, 0]];
    const run = async (backend: string) => {
      await tf.setBackend(backend);
      const x = tf.tensor4d(xv, xShape as [number, number, number, number]);
      const f = tf.tensor4d(fv, fShape as [number, number, number, number]);
      const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(
          tf.square(
            tf.depthwiseConv2d(
              a as tf.Tensor4D,
              b as tf.Tensor4D,
              g.strides,
              pad,
            ),
          ),
        )
      )([x, f]);
      const out = [dx!.dataSync().slice(), df!.dataSync().slice()];
      tf.dispose([x, f, dx!, df!]);
      return out;
    };
    const cpu = await run("cpu");
    const wasm = await run("wasm");
    for (let k = 0; k < 2; k++) {
      let err = 0, scale = 1e-3;
      cpu[k]!.forEach((v, j) => {
        err = Math.max(err, Math.abs(v - wasm[k]![j]!));
        scale = Math.max(scale, Math.abs(v));
      });
      assert.ok(
        err / scale <= 1e-4,
        `case ${i} ${k === 0 ? "dx" : "dfilter"}: ${err / scale}`,
      );
    }
  }
  await tf.setBackend("wasm");
});

Deno.test("conv: dilation, groups and an activity regularizer are refused in one line", async () => {
  const [c] = await cases(
    1,
    5,
    (_rng, g) => [new Conv2D({ filters: 2, ...g }), "Conv2D"],
  );
  const layerConfig = () => {
    const json = structuredClone(c!.json);
    return {
      json,
      config: (json.modelTopology.config as {
        layers: { config: Record<string, unknown> }[];
      }).layers[0]!.config,
    };
  };
  for (
    const [key, value, message] of [
      [
        "dilation_rate",
        [2, 2],
        /layer 'conv2d' \(Conv2D\) uses dilation_rate other than 1, which simdnet cannot run/,
      ],
      ["groups", 2, /uses groups/],
      ["activity_regularizer", {
        class_name: "L1L2",
        config: { l1: 0.1, l2: 0 },
      }, /has activity_regularizer .*; set it to null/],
      ["strides", [0, 1], /strides must be two whole numbers >= 1/],
    ] as const
  ) {
    const { json, config } = layerConfig();
    config[key] = value;
    assert.throws(() => modelFromArtifacts(json, c!.weights), (e: Error) => {
      assert.ok(e instanceof ModelFormatError, String(e));
      assert.match(e.message, message);
      assert.ok(!e.message.includes("\n"));
      return true;
    });
  }
});

Deno.test("conv: plan() gives Keras' output sizes", () => {
  // Keras: ceil(n / s) for same, floor((n - k) / s) + 1 for valid.
  const rng = createRng(6);
  for (let i = 0; i < 50; i++) {
    const g = geometry(rng);
    const [h, w] = g.inputShape as [number, number];
    const layer = new Conv2D({ filters: 3, name: "c", ...g });
    const out = layer.plan(g.inputShape).output;
    const size = (n: number, k: number, s: number) =>
      g.padding === "same" ? Math.ceil(n / s) : Math.floor((n - k) / s) + 1;
    assert.deepEqual(out, [
      size(h, g.kernelSize[0], g.strides[0]),
      size(w, g.kernelSize[1], g.strides[1]),
      3,
    ]);
  }
  assert.throws(
    () => new DepthwiseConv2D({ kernelSize: 5, name: "d" }).plan([4, 8, 2]),
    /d: DepthwiseConv2D: a 5x5 'valid' window cannot run on a 4x8 input/,
  );
});
