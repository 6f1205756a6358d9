/**
 * Activation, ReLU, LeakyReLU, Rescaling, Normalization and ZeroPadding2D:
 * against tfjs-layers 4.22 where it has the layer and setting (cpu, tfjs'
 * own gradient configs), else against Keras' formula with gradients by
 * finite differences; simdnet on cpu and wasm at 1 and 2 threads; config
 * readers; a model.json round trip simdnet -> tfjs-layers -> simdnet.
 */

import assert from "node:assert/strict";
import { Activation } from "../src/nn/activation_layer.ts";
import { BatchNormalization } from "../src/nn/batch_normalization.ts";
import { ModelFormatError } from "../src/nn/config_values.ts";
import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { Flatten } from "../src/nn/flatten.ts";
import type { Layer } from "../src/nn/layer.ts";
import { layerFromConfig } from "../src/nn/layer_config.ts";
import { LeakyReLU } from "../src/nn/leaky_relu.ts";
import { modelFromArtifacts, modelToArtifacts } from "../src/nn/model_io.ts";
import { Normalization } from "../src/nn/normalization.ts";
import { ReLU } from "../src/nn/relu.ts";
import { Rescaling } from "../src/nn/rescaling.ts";
import { Sequential } from "../src/nn/sequential.ts";
import { ZeroPadding2D } from "../src/nn/zero_padding2d.ts";
import { initRuntime } from "../src/runtime/init.ts";
import {
  assertClose,
  type Case,
  onEachTarget,
  randomValues,
  relErr,
  rngFor,
  runOurs,
  runTheirs,
  tf,
  tfl,
} from "./_layer_reference.ts";

await initRuntime({ backend: "wasm", threads: 2 });

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

/** Pairs of simdnet and tfjs-layers layers with the same settings. */
const SAME: [string, () => Layer, () => tfl.layers.Layer][] = [
  [
    "Activation gelu",
    () => new Activation("gelu"),
    () => tfl.layers.activation({ activation: "gelu" as "relu" }),
  ],
  [
    "Activation tanh",
    () => new Activation("tanh"),
    () => tfl.layers.activation({ activation: "tanh" }),
  ],
  [
    "Activation softmax",
    () => new Activation("softmax"),
    () => tfl.layers.activation({ activation: "softmax" }),
  ],
  ["ReLU", () => new ReLU(), () => tfl.layers.reLU()],
  [
    "ReLU max 6",
    () => new ReLU({ maxValue: 6 }),
    () => tfl.layers.reLU({ maxValue: 6 }),
  ],
  [
    "ReLU max 2.5",
    () => new ReLU({ maxValue: 2.5 }),
    () => tfl.layers.reLU({ maxValue: 2.5 }),
  ],
  ["LeakyReLU", () => new LeakyReLU(), () => tfl.layers.leakyReLU()],
  [
    "LeakyReLU 0.1",
    () => new LeakyReLU({ alpha: 0.1 }),
    () => tfl.layers.leakyReLU({ alpha: 0.1 }),
  ],
  [
    "Rescaling",
    () => new Rescaling(1 / 255, { offset: -0.5 }),
    () => tfl.layers.rescaling({ scale: 1 / 255, offset: -0.5 }),
  ],
];

Deno.test("layers_misc: Activation, ReLU (max_value), LeakyReLU and Rescaling match tfjs-layers, outputs and input gradients, on cpu and wasm at 1 and 2 threads", async () => {
  let seed = 1;
  for (const [what, ours, theirs] of SAME) {
    const c = imageCase(seed++);
    const want = await runTheirs(theirs, c);
    await onEachTarget((target) => {
      assertClose(runOurs([ours()], c), want, 1e-4, `${what} on ${target}`);
    });
  }
});

Deno.test("layers_misc: ZeroPadding2D in each of Keras' forms matches tfjs-layers, gradients included", async () => {
  const forms: [
    number | [number, number] | [[number, number], [number, number]],
    number[],
  ][] = [
    [1, [1, 1, 1, 1]],
    [[2, 0], [2, 2, 0, 0]],
    [[[0, 3], [2, 1]], [0, 3, 2, 1]],
  ];
  let seed = 20;
  for (const [padding, [t, b, l, r]] of forms) {
    const c = imageCase(
      seed++,
      ([n, h, w, ch]) => [n!, h! + t! + b!, w! + l! + r!, ch!],
    );
    const want = await runTheirs(
      () => tfl.layers.zeroPadding2d({ padding: padding as number }),
      c,
    );
    await onEachTarget((target) => {
      const got = runOurs([new ZeroPadding2D({ padding })], c);
      assertClose(
        got,
        want,
        1e-6,
        `padding ${JSON.stringify(padding)} on ${target}`,
      );
    });
  }
});

/** Keras' relu with every option, in double precision. */
function kerasRelu(x: number, max: number | null, slope: number, t: number) {
  let y = t !== 0 ? (x > t ? x : 0) : Math.max(x, 0);
  if (max !== null) y = Math.min(Math.max(y, 0), max);
  return y - slope * Math.max(t - x, 0);
}

Deno.test("layers_misc: ReLU with negative_slope and threshold (not in tfjs-layers) matches Keras' formula, gradients by finite differences", async () => {
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

Deno.test("layers_misc: Activation softmax is skipped for logits, like Dense's", () => {
  const x = tf.tensor([[1, 2, 3]]);
  const layer = new Activation("softmax");
  assert.deepEqual(
    Array.from(layer.apply(x, { training: false, logits: true }).dataSync()),
    [1, 2, 3],
  );
  const p = Array.from(layer.apply(x, { training: false }).dataSync());
  assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-6);
});

Deno.test("layers_misc: config readers take Keras 2, Keras 3 and tfjs-layers keys and refuse bad values in one line naming the layer", () => {
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

/** Every new layer in one small Sequential. */
function everyLayer(): Sequential {
  return new Sequential([
    new Rescaling(1 / 4, { offset: -0.25 }),
    new ZeroPadding2D({ padding: [[1, 0], [0, 2]] }),
    new Conv2D({ filters: 4, kernelSize: 3, activation: "gelu" }),
    new BatchNormalization({ momentum: 0.9 }),
    new ReLU({ maxValue: 6 }),
    new Conv2D({ filters: 3, kernelSize: 1, activation: "swish" }),
    new LeakyReLU({ alpha: 0.2 }),
    new Activation("tanh"),
    new Flatten(),
    new Dense({ units: 5, activation: "selu" }),
    new Dense({ units: 3, activation: "softmax" }),
  ], { inputShape: [5, 5, 2], seed: 3 });
}

Deno.test("layers_misc: model.json round trip simdnet -> tfjs-layers -> simdnet for a Sequential using every new layer and activation", async () => {
  await tf.setBackend("cpu");
  const model = everyLayer();
  const x = tf.tensor(randomValues(rngFor(60), 2 * 5 * 5 * 2, 0, 4), [
    2,
    5,
    5,
    2,
  ]);
  try {
    // Moving statistics away from their initial values first.
    model.apply(x, { training: true });
    const want = model.apply(x).dataSync().slice();
    const { json, weights } = await modelToArtifacts(model);
    const theirs = await tfl.loadLayersModel(tf.io.fromMemory({
      modelTopology: json
        .modelTopology as unknown as tf.io.ModelJSON["modelTopology"],
      weightSpecs: json.weightsManifest[0]!
        .weights as tf.io.WeightsManifestEntry[],
      weightData: weights.slice().buffer,
    }));
    assert.deepEqual(
      theirs.layers.map((l) => l.getClassName()),
      model.layers.map((l) => l.className),
    );
    assert.equal(theirs.countParams(), model.countParams());
    const mid = (theirs.predict(x) as tf.Tensor).dataSync();
    assert.ok(
      relErr(mid, want) < 1e-5,
      `tfjs-layers differs by ${relErr(mid, want)}`,
    );
    let saved: tf.io.ModelArtifacts | undefined;
    await theirs.save(tf.io.withSaveHandler((a) => {
      saved = a;
      return Promise.resolve({
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: "JSON",
        },
      });
    }));
    const back = modelFromArtifacts(
      {
        format: "layers-model",
        modelTopology: saved!.modelTopology,
        weightsManifest: [{ paths: ["w.bin"], weights: saved!.weightSpecs }],
      } as never,
      new Uint8Array(tf.io.CompositeArrayBuffer.join(saved!.weightData!)),
    );
    assert.deepEqual(
      back.layers.map((l) => JSON.stringify(l.config())),
      model.layers.map((l) => JSON.stringify(l.config())),
    );
    assert.ok(relErr(back.apply(x).dataSync(), want) < 1e-6);
    back.dispose();
    theirs.dispose();
  } finally {
    x.dispose();
    model.dispose();
  }
});

Deno.test("layers_misc: Normalization with weights round-trips through simdnet's model.json", async () => {
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
