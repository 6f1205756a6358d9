/**
 * Activation, ReLU, LeakyReLU, Rescaling, Normalization and ZeroPadding2D:
 * against tfjs-layers 4.22 where it has the layer and setting (cpu, tfjs'
 * own gradient configs), else against Keras' formula with gradients by
 * finite differences; simdnet on cpu and wasm at 1 and 2 threads; config
 * readers; a model.json round trip simdnet -> tfjs-layers -> simdnet.
 */

import assert from "node:assert/strict";
import { Activation } from "../src/nn/activation_layer.ts";
import { ModelFormatError } from "../src/nn/config_values.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { layerFromConfig } from "../src/nn/layer_config.ts";
import type { LeakyReLU } from "../src/nn/leaky_relu.ts";
import { modelFromArtifacts, modelToArtifacts } from "../src/nn/model_io.ts";
import { Normalization } from "../src/nn/normalization.ts";
import { ReLU } from "../src/nn/relu.ts";
import type { Rescaling } from "../src/nn/rescaling.ts";
import { Sequential } from "../src/nn/sequential.ts";
import type { ZeroPadding2D } from "../src/nn/zero_padding2d.ts";
import { initRuntime } from "../src/runtime/init.ts";
import {
  type Case,
  onEachTarget,
  randomValues,
  relErr,
  rngFor,
  runOurs,
  tf,
} from "./_layer_run.ts";
import { type ReferenceSpec, spec } from "./_tfl_reference.ts";
import { runConformance } from "./_tfl_conformance.ts";

// The tfjs-layers child imports this module for MISC_SPECS: nothing may
// start at its top level (simdnet's gradients would replace tfjs' there).
const ready = () => initRuntime({ backend: "wasm", threads: 2 });

/** A random image-shaped case without weights; r sized for `outShape`. */
function imageCase(seed: number, outShape?: (s: number[]) => number[]): Case {
  const rng = rngFor(seed);
  const shape = [
    1 + rng.int(3),
    2 + rng.int(5),
    2 + rng.int(5),
    1 + rng.int(4),
  ];
  const out = outShape ? outShape(shape) : shape;
  return {
    x: randomValues(rng, shape.reduce((a, b) => a * b, 1), -3, 8),
    xShape: shape,
    weights: [],
    r: randomValues(rng, out.reduce((a, b) => a * b, 1)),
    training: false,
  };
}

/** A random image shape [h, w, channels] (at least two values). */
function imageShape(seed: number): number[] {
  const rng = rngFor(seed);
  return [2 + rng.int(5), 2 + rng.int(5), 1 + rng.int(4)];
}

// Inputs in [-3, 8), as Keras' layers see raw features: both sides of
// ReLU's and LeakyReLU's kink and above the caps 2.5 and 6.
const WIDE: [number, number] = [-3, 8];

/**
 * The layers whose settings tfjs-layers has, on random image shapes drawn
 * from fixed seeds (the child draws the same), and one small Sequential
 * of every new layer and activation (BatchNormalization's moving
 * statistics moved by 2 training steps).
 */
// One spec per line, so that adding a layer is one line: not reformatted.
// deno-fmt-ignore
export const MISC_SPECS: ReferenceSpec[] = [
  { ...spec("Activation gelu", (L) => L.layers.activation({ activation: "gelu" as "relu" }), imageShape(1), 1), inputRange: WIDE },
  { ...spec("Activation tanh", (L) => L.layers.activation({ activation: "tanh" }), imageShape(2), 2), inputRange: WIDE },
  { ...spec("Activation softmax", (L) => L.layers.activation({ activation: "softmax" }), [7], 3), inputRange: WIDE },
  { ...spec("ReLU", (L) => L.layers.reLU(), imageShape(4), 4), inputRange: WIDE },
  { ...spec("ReLU max 6", (L) => L.layers.reLU({ maxValue: 6 }), imageShape(5), 5), inputRange: WIDE },
  { ...spec("ReLU max 2.5", (L) => L.layers.reLU({ maxValue: 2.5 }), imageShape(6), 6), inputRange: WIDE },
  { ...spec("LeakyReLU", (L) => L.layers.leakyReLU(), imageShape(7), 7), inputRange: WIDE },
  { ...spec("LeakyReLU 0.1", (L) => L.layers.leakyReLU({ alpha: 0.1 }), imageShape(8), 8), inputRange: WIDE },
  { ...spec("Rescaling", (L) => L.layers.rescaling({ scale: 1 / 255, offset: -0.5 }), imageShape(9), 9), inputRange: WIDE },
  { ...spec("ZeroPadding2D 1", (L) => L.layers.zeroPadding2d({ padding: 1 }), imageShape(20), 20), inputRange: WIDE },
  { ...spec("ZeroPadding2D [2, 0]", (L) => L.layers.zeroPadding2d({ padding: [2, 0] }), imageShape(21), 21), inputRange: WIDE },
  { ...spec("ZeroPadding2D [[0, 3], [2, 1]]", (L) => L.layers.zeroPadding2d({ padding: [[0, 3], [2, 1]] }), imageShape(22), 22), inputRange: WIDE },
  { ...spec("every new layer and activation in one Sequential", (L) => L.sequential({ layers: [L.layers.rescaling({ inputShape: [5, 5, 2], scale: 1 / 4, offset: -0.25 }), L.layers.zeroPadding2d({ padding: [[1, 0], [0, 2]] }), L.layers.conv2d({ filters: 4, kernelSize: 3, activation: "gelu" as "relu" }), L.layers.batchNormalization({ momentum: 0.9 }), L.layers.reLU({ maxValue: 6 }), L.layers.conv2d({ filters: 3, kernelSize: 1, activation: "swish" }), L.layers.leakyReLU({ alpha: 0.2 }), L.layers.activation({ activation: "tanh" }), L.layers.flatten(), L.layers.dense({ units: 5, activation: "selu" }), L.layers.dense({ units: 3, activation: "softmax" })] }), [5, 5, 2], 60), inputRange: [0, 4], steps: 2 },
];

Deno.test("layers_misc: Activation, ReLU (max_value), LeakyReLU, Rescaling, ZeroPadding2D in each of Keras' forms and a Sequential of every new layer match tfjs-layers (outputs, gradients, round trip), on cpu and wasm at 1 and 2 threads", async (t) => {
  await ready();
  await runConformance(t, {
    module: import.meta.url,
    groups: [{ name: "MISC_SPECS", specs: MISC_SPECS, mustLoad: true }],
    // The tolerances and floors of layers_reference_test.ts, whose
    // comment has the measurements behind them.
    batch: 2,
    output: [1e-4, 2e-2],
    grad: [1e-3, 2e-2],
    cpu: true,
  });
});

/** Keras' relu with every option, in double precision. */
function kerasRelu(x: number, max: number | null, slope: number, t: number) {
  let y = t !== 0 ? (x > t ? x : 0) : Math.max(x, 0);
  if (max !== null) y = Math.min(Math.max(y, 0), max);
  return y - slope * Math.max(t - x, 0);
}

Deno.test("layers_misc: ReLU with negative_slope and threshold (not in tfjs-layers) matches Keras' formula, gradients by finite differences", async () => {
  await ready();
  const settings = [
    { maxValue: null, negativeSlope: 0.1, threshold: 0 },
    { maxValue: 4, negativeSlope: 0.2, threshold: 0.5 },
    { maxValue: null, negativeSlope: 0, threshold: 1.5 },
    { maxValue: 6, negativeSlope: 0.3, threshold: 0 },
  ];
  let seed = 30;
  for (const s of settings) {
    const c = imageCase(seed++);
    // Keep away from the kinks, where the two one-sided slopes differ.
    c.x = c.x.map((v) =>
      [0, s.threshold, s.maxValue ?? -99].some((k) => Math.abs(v - k) < 0.05)
        ? v + 0.1
        : v
    );
    const f = (v: number) =>
      kerasRelu(v, s.maxValue, s.negativeSlope, s.threshold);
    const y = Array.from(c.x, f);
    const h = 1e-3;
    const dx = Array.from(
      c.x,
      (v, i) => c.r[i]! * (f(v + h) - f(v - h)) / (2 * h),
    );
    await onEachTarget((target) => {
      const got = runOurs([new ReLU(s)], c);
      assert.ok(relErr(got.y, y) < 1e-6, `${JSON.stringify(s)} on ${target}`);
      assert.ok(
        relErr(got.dx, dx) < 1e-4,
        `${JSON.stringify(s)} grad on ${target}`,
      );
    });
  }
});

Deno.test("layers_misc: Normalization (config statistics, weights, invert) matches Keras' formula (x - mean) / max(sqrt(var), 1e-7)", async () => {
  await ready();
  const c = imageCase(40);
  const ch = c.xShape[3]!;
  const rng = rngFor(41);
  const mean = Array.from(randomValues(rng, ch));
  const variance = Array.from(randomValues(rng, ch, 0.2, 3));
  variance[0] = 0; // the epsilon floor
  const sd = variance.map((v) => Math.max(Math.sqrt(v), 1e-7));
  const want = Array.from(c.x, (v, i) => (v - mean[i % ch]!) / sd[i % ch]!);
  const back = Array.from(c.x, (v, i) => v * sd[i % ch]! + mean[i % ch]!);
  const dx = Array.from(c.r, (r, i) => r / sd[i % ch]!);
  await onEachTarget((target) => {
    const fromConfig = runOurs([new Normalization({ mean, variance })], c);
    assert.ok(relErr(fromConfig.y, want) < 1e-5, `config on ${target}`);
    assert.ok(relErr(fromConfig.dx, dx) < 1e-5, `gradient on ${target}`);
    const weighted = runOurs([new Normalization()], {
      ...c,
      weights: [
        new Float32Array(mean),
        new Float32Array(variance),
        new Float32Array([10]),
      ],
    });
    assert.ok(relErr(weighted.y, want) < 1e-5, `weights on ${target}`);
    const inverse = runOurs([
      new Normalization({ mean, variance, invert: true }),
    ], c);
    assert.ok(relErr(inverse.y, back) < 1e-5, `invert on ${target}`);
  });
});

Deno.test("layers_misc: Activation softmax is skipped for logits, like Dense's", async () => {
  await ready();
  const x = tf.tensor([[1, 2, 3]]);
  const layer = new Activation("softmax");
  assert.deepEqual(
    Array.from(layer.apply(x, { training: false, logits: true }).dataSync()),
    [1, 2, 3],
  );
  const p = Array.from(layer.apply(x, { training: false }).dataSync());
  assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-6);
});

Deno.test("layers_misc: config readers take Keras 2, Keras 3 and tfjs-layers keys and refuse bad values in one line naming the layer", async () => {
  await ready();
  const read = (cls: string, c: Record<string, unknown>) =>
    layerFromConfig(cls, { name: "l", ...c });
  assert.equal((read("LeakyReLU", { alpha: 0.1 }) as LeakyReLU).alpha, 0.1);
  assert.equal(
    (read("LeakyReLU", { negative_slope: 0.2 }) as LeakyReLU).alpha,
    0.2,
  );
  assert.equal((read("LeakyReLU", {}) as LeakyReLU).alpha, 0.3);
  const relu = read("ReLU", {
    max_value: 6,
    negative_slope: 0.1,
    threshold: 1,
  }) as ReLU;
  assert.deepEqual([relu.maxValue, relu.negativeSlope, relu.threshold], [
    6,
    0.1,
    1,
  ]);
  assert.deepEqual((read("ZeroPadding2D", {}) as ZeroPadding2D).padding, [[
    1,
    1,
  ], [1, 1]]);
  assert.deepEqual(
    (read("ZeroPadding2D", { padding: [[1, 2], [3, 4]] }) as ZeroPadding2D)
      .padding,
    [[1, 2], [3, 4]],
  );
  const norm = read("Normalization", {
    axis: [-1],
    mean: [[[1, 2]]],
    variance: [[[4, 9]]],
  }) as Normalization;
  assert.deepEqual([norm.mean, norm.variance], [[1, 2], [4, 9]]);
  assert.equal((read("Rescaling", { scale: 0.5 }) as Rescaling).offset, 0);
  const bad: [string, Record<string, unknown>, RegExp][] = [
    ["ReLU", { max_value: -1 }, /max_value/],
    ["ReLU", { threshold: "x" }, /threshold/],
    ["LeakyReLU", { alpha: null, negative_slope: "a" }, /negative_slope/],
    ["ZeroPadding2D", { padding: [1, 2, 3] }, /padding/],
    ["Rescaling", {}, /scale/],
    ["Rescaling", { scale: [1, 2] }, /per-channel/],
    ["Normalization", { axis: 1, mean: 0, variance: 1 }, /axis/],
    ["Normalization", { mean: 1 }, /both mean and variance/],
    ["Activation", { activation: "nope" }, /nope/],
  ];
  for (const [cls, c, pattern] of bad) {
    assert.throws(
      () => read(cls, c),
      (e: Error) =>
        e instanceof ModelFormatError && pattern.test(e.message) &&
        e.message.startsWith(`layer 'l' (${cls})`) && !e.message.includes("\n"),
      `${cls} ${JSON.stringify(c)}`,
    );
  }
  assert.throws(
    () =>
      new Sequential([new Normalization({ mean: [1, 2], variance: [1, 1] })], {
        inputShape: [2, 2, 3],
      }),
    /2 means or variances for 3 channels/,
  );
});

Deno.test("layers_misc: Normalization with weights round-trips through simdnet's model.json", async () => {
  await ready();
  await tf.setBackend("cpu");
  const model = new Sequential([new Normalization(), new Flatten()], {
    inputShape: [2, 2, 3],
  });
  model.setWeights([
    {
      name: "normalization/mean",
      shape: [3],
      values: new Float32Array([1, 2, 3]),
    },
    {
      name: "normalization/variance",
      shape: [3],
      values: new Float32Array([4, 1, 9]),
    },
    { name: "normalization/count", shape: [], values: new Float32Array([7]) },
  ]);
  const x = tf.tensor(randomValues(rngFor(70), 12), [1, 2, 2, 3]);
  try {
    const { json, weights } = await modelToArtifacts(model);
    const back = modelFromArtifacts(json, weights);
    assert.deepEqual(back.apply(x).dataSync(), model.apply(x).dataSync());
    assert.deepEqual(back.weights.map((w) => w.trainable), [
      false,
      false,
      false,
    ]);
    back.dispose();
  } finally {
    x.dispose();
    model.dispose();
  }
});
