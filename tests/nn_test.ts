/**
 * Layers, the seed CNN, its Keras summary, initialisation, inference in
 * batches, feature maps, save/load and the loss, on the `cpu` backend.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { cifarCnn } from "../src/nn/cifar_cnn.ts";
import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { Dropout } from "../src/nn/dropout.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { fans } from "../src/nn/initializers.ts";
import { MaxPooling2D } from "../src/nn/max_pooling2d.ts";
import {
  loadModel,
  ModelFormatError,
  modelFromArtifacts,
  modelToArtifacts,
  saveModel,
  WEIGHTS_FILE,
} from "../src/nn/model_io.ts";
import { Sequential } from "../src/nn/sequential.ts";
import { registerGradients } from "../src/runtime/gradients.ts";
import { correctCount, softmaxCrossEntropy } from "../src/train/loss.ts";

await tf.setBackend("cpu");
registerGradients();

// Keras 2's summary of the notebook's model, column by column: names end at
// 29, shapes at 55, parameter counts at 65 (lines are padded with spaces).
const KERAS_ROWS: Array<[string, string, string]> = [
  ["conv2d (Conv2D)", "(None, 32, 32, 32)", "896"],
  ["conv2d_1 (Conv2D)", "(None, 32, 32, 32)", "9248"],
  ["max_pooling2d (MaxPooling2D)", "(None, 16, 16, 32)", "0"],
  ["dropout (Dropout)", "(None, 16, 16, 32)", "0"],
  ["conv2d_2 (Conv2D)", "(None, 16, 16, 64)", "18496"],
  ["conv2d_3 (Conv2D)", "(None, 16, 16, 64)", "36928"],
  ["max_pooling2d_1 (MaxPooling2", "(None, 8, 8, 64)", "0"],
  ["dropout_1 (Dropout)", "(None, 8, 8, 64)", "0"],
  ["flatten (Flatten)", "(None, 4096)", "0"],
  ["dense (Dense)", "(None, 512)", "2097664"],
  ["dropout_2 (Dropout)", "(None, 512)", "0"],
  ["dense_1 (Dense)", "(None, 10)", "5130"],
];

Deno.test("nn: the seed CNN's summary is Keras 2's, line for line", () => {
  const model = cifarCnn({ seed: 1 });
  const printed: string[] = [];
  const text = model.summary((line) => printed.push(line));
  const rule = (c: string) => c.repeat(65);
  const cols = (a: string, b: string, c: string) =>
    a.padEnd(29) + b.padEnd(26) + c.padEnd(10);
  const expected = [
    'Model: "sequential"',
    rule("_"),
    cols("Layer (type)", "Output Shape", "Param #"),
    rule("="),
    ...KERAS_ROWS.flatMap(([a, b, c], i) => [
      cols(a, b, c),
      rule(i === KERAS_ROWS.length - 1 ? "=" : "_"),
    ]),
    "Total params: 2,168,362",
    "Trainable params: 2,168,362",
    "Non-trainable params: 0",
    rule("_"),
  ];
  assert.deepEqual(printed, expected);
  assert.equal(text, expected.join("\n"));
  // The truncated pooling name is glued to its shape, as in Keras.
  assert.ok(
    printed.includes(
      "max_pooling2d_1 (MaxPooling2 (None, 8, 8, 64)          0         ",
    ),
  );
  model.dispose();
});

Deno.test("nn: parameter counts and Keras weight names", () => {
  const model = cifarCnn();
  assert.equal(model.countParams(), 2_168_362);
  assert.deepEqual(model.weights.map((w) => w.name), [
    "conv2d/kernel",
    "conv2d/bias",
    "conv2d_1/kernel",
    "conv2d_1/bias",
    "conv2d_2/kernel",
    "conv2d_2/bias",
    "conv2d_3/kernel",
    "conv2d_3/bias",
    "dense/kernel",
    "dense/bias",
    "dense_1/kernel",
    "dense_1/bias",
  ]);
  assert.deepEqual(model.weights[0]?.variable.shape, [3, 3, 3, 32]);
  assert.deepEqual(model.weights[8]?.variable.shape, [4096, 512]);
  assert.deepEqual(model.outputShape, [10]);
  model.dispose();
});

Deno.test("nn: glorot-uniform kernels are seeded, bounded and zero-mean; biases zero", async () => {
  const a = cifarCnn({ seed: 7 });
  const b = cifarCnn({ seed: 7 });
  const c = cifarCnn({ seed: 8 });
  const [wa, wb, wc] = await Promise.all([
    a.getWeights(),
    b.getWeights(),
    c.getWeights(),
  ]);
  assert.deepEqual(wa[2]?.values, wb[2]?.values);
  assert.notDeepEqual(wa[2]?.values, wc[2]?.values);
  for (const w of wa) {
    if (w.name.endsWith("/bias")) {
      assert.ok(w.values.every((v) => v === 0), `${w.name} is not zero`);
      continue;
    }
    const [fanIn, fanOut] = fans(w.shape);
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    let sum = 0;
    let sq = 0;
    for (const v of w.values) {
      assert.ok(Math.abs(v) <= limit, `${w.name}: ${v} outside ±${limit}`);
      sum += v;
      sq += v * v;
    }
    const n = w.values.length;
    const std = Math.sqrt(sq / n - (sum / n) ** 2);
    // U(-l, l) has standard deviation l / sqrt(3).
    assert.ok(
      Math.abs(std / (limit / Math.sqrt(3)) - 1) < 0.1,
      `${w.name} std ${std}`,
    );
    assert.ok(Math.abs(sum / n) < 0.1 * limit, `${w.name} mean ${sum / n}`);
  }
  assert.deepEqual(fans([3, 3, 32, 64]), [288, 576]);
  assert.deepEqual(fans([4096, 512]), [4096, 512]);
  tf.dispose([a, b, c].flatMap((m) => m.trainableVariables));
});

Deno.test("nn: predict in batches equals one pass and gives probabilities", () => {
  const model = cifarCnn({ seed: 2, inputShape: [8, 8, 3] });
  const x = tf.randomUniform([7, 8, 8, 3], 0, 1, "float32", 3);
  const before = tf.memory().numTensors;
  const batched = model.predict(x, 3);
  assert.equal(tf.memory().numTensors, before + 1, "predict leaks tensors");
  const whole = model.apply(x);
  const sums = tf.sum(batched, 1);
  assert.deepEqual(batched.shape, [7, 10]);
  const d = tf.max(tf.abs(tf.sub(batched, whole))).dataSync()[0]!;
  assert.ok(d < 1e-6, `batched and whole predictions differ by ${d}`);
  for (const s of sums.dataSync()) assert.ok(Math.abs(s - 1) < 1e-5);
  // Logits mode skips the softmax: softmax(logits) is the prediction.
  const logits = model.apply(x, { training: false, logits: true });
  const d2 = tf.max(tf.abs(tf.sub(tf.softmax(logits), whole))).dataSync()[0]!;
  assert.ok(d2 < 1e-6);
  assert.throws(
    () => model.predict(tf.zeros([1, 4, 4, 3])),
    /expects inputs of shape \[batch, 8, 8, 3\], got \[1, 4, 4, 3\]/,
  );
  tf.dispose([x, batched, whole, sums, logits, ...model.trainableVariables]);
});

Deno.test("nn: activations returns every conv layer's feature maps", () => {
  const model = cifarCnn({ seed: 3 });
  const x = tf.randomUniform([1, 32, 32, 3], 0, 1, "float32", 4);
  const before = tf.memory().numTensors;
  const maps = model.activations(x);
  assert.equal(tf.memory().numTensors, before + 4);
  assert.deepEqual(maps.map((m) => m.name), [
    "conv2d",
    "conv2d_1",
    "conv2d_2",
    "conv2d_3",
  ]);
  assert.deepEqual(maps.map((m) => m.output.shape), [
    [1, 32, 32, 32],
    [1, 32, 32, 32],
    [1, 16, 16, 64],
    [1, 16, 16, 64],
  ]);
  // ReLU outputs.
  assert.ok(maps.every((m) => tf.min(m.output).dataSync()[0]! >= 0));
  tf.dispose([x, ...maps.map((m) => m.output), ...model.trainableVariables]);
});

Deno.test("nn: conv layer matches tf.conv2d + bias + relu", () => {
  const layer = new Conv2D({
    filters: 4,
    kernelSize: 3,
    padding: "valid",
    activation: "relu",
  });
  const model = new Sequential([layer], { inputShape: [5, 6, 2], seed: 9 });
  assert.deepEqual(model.outputShape, [3, 4, 4]);
  const [kernel, bias] = layer.weights;
  bias!.variable.assign(tf.tensor1d([0.1, -0.2, 0.3, -0.4]));
  const x = tf.randomUniform([2, 5, 6, 2], -1, 1, "float32", 5);
  const y = model.apply(x);
  const ref = tf.relu(
    tf.add(
      tf.conv2d(x as tf.Tensor4D, kernel!.variable as tf.Tensor4D, 1, "valid"),
      bias!.variable,
    ),
  );
  assert.ok(tf.max(tf.abs(tf.sub(y, ref))).dataSync()[0]! < 1e-5);
  tf.dispose([x, y, ref, ...model.trainableVariables]);
});

Deno.test("nn: dropout is seeded inverted dropout in training, identity otherwise", () => {
  const layer = new Dropout(0.25);
  const model = new Sequential([new Flatten(), layer], {
    inputShape: [100, 100],
  });
  const x = tf.ones([1, 100, 100]);
  const run = (seed: number) =>
    model.apply(x, { training: true, nextSeed: () => seed }).dataSync();
  const a = run(11);
  assert.deepEqual(a, run(11));
  assert.notDeepEqual(a, run(12));
  const kept = a.filter((v) => v !== 0);
  assert.ok(kept.every((v) => Math.abs(v - 1 / 0.75) < 1e-6));
  const dropped = 1 - kept.length / a.length;
  assert.ok(Math.abs(dropped - 0.25) < 0.02, `dropped ${dropped}`);
  assert.deepEqual(
    model.apply(x).dataSync(),
    tf.reshape(x, [1, 10000]).dataSync(),
  );
  assert.throws(
    () => model.apply(x, { training: true }),
    /needs ctx\.nextSeed/,
  );
  x.dispose();
});

Deno.test("nn: layer validation names the problem", () => {
  assert.throws(() => new Dropout(1), /rate must be in \[0, 1\)/);
  assert.throws(() => new Dense({ units: 0 }), /units >= 1/);
  assert.throws(
    () => new Sequential([new Dense({ units: 3 })], { inputShape: [4, 4] }),
    /put a Flatten layer before it/,
  );
  assert.throws(
    () =>
      new Sequential([new MaxPooling2D({ poolSize: 4 })], {
        inputShape: [2, 2, 1],
      }),
    /cannot run on a 2x2 input/,
  );
});

Deno.test("nn: save and load round-trip in TF.js Layers format", async () => {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_nn_" });
  try {
    const model = cifarCnn({ seed: 4, inputShape: [8, 8, 3] });
    await saveModel(model, dir);
    const json = JSON.parse(await Deno.readTextFile(`${dir}/model.json`));
    assert.equal(json.format, "layers-model");
    assert.equal(json.modelTopology.class_name, "Sequential");
    const layers = json.modelTopology.config.layers;
    assert.deepEqual(layers[0].config.batch_input_shape, [null, 8, 8, 3]);
    assert.equal(layers[11].config.activation, "softmax");
    assert.deepEqual(json.weightsManifest[0].paths, [WEIGHTS_FILE]);
    const bin = await Deno.stat(`${dir}/${WEIGHTS_FILE}`);
    assert.equal(bin.size, model.countParams() * 4);

    const loaded = await loadModel(dir);
    assert.equal(loaded.summary(null), model.summary(null));
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, "float32", 6);
    const d = tf.max(tf.abs(tf.sub(loaded.apply(x), model.apply(x))));
    assert.equal(d.dataSync()[0], 0);

    // Truncated weights are reported as such.
    const { json: j, weights } = await modelToArtifacts(model);
    assert.throws(
      () => modelFromArtifacts(j, weights.subarray(0, 100)),
      ModelFormatError,
    );
    await assert.rejects(loadModel(`${dir}/nope`), /no model at/);
    tf.dispose([
      x,
      d,
      ...model.trainableVariables,
      ...loaded.trainableVariables,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("nn: cross-entropy from logits is stable and its gradient is (softmax - onehot) / batch", () => {
  const logits = tf.tensor2d([[2, -1, 0.5], [1000, 0, -1000], [0, 0, 0]]);
  const onehot = tf.tensor2d([[0, 0, 1], [1, 0, 0], [0, 1, 0]]);
  const loss = softmaxCrossEntropy(logits, onehot).dataSync()[0]!;
  // float64 reference
  const rows = [[2, -1, 0.5], [1000, 0, -1000], [0, 0, 0]];
  const targets = [2, 0, 1];
  let ref = 0;
  rows.forEach((r, i) => {
    const m = Math.max(...r);
    const lse = m + Math.log(r.reduce((s, v) => s + Math.exp(v - m), 0));
    ref += lse - r[targets[i]!]!;
  });
  ref /= 3;
  assert.ok(Math.abs(loss - ref) < 1e-5, `${loss} vs ${ref}`);
  const g = tf.grad((l: tf.Tensor) => softmaxCrossEntropy(l, onehot))(logits);
  const want = tf.div(tf.sub(tf.softmax(logits), onehot), 3);
  assert.ok(tf.max(tf.abs(tf.sub(g, want))).dataSync()[0]! < 1e-6);
  assert.equal(
    correctCount(logits, tf.tensor1d([0, 0, 1], "int32")).dataSync()[0],
    2,
  );
  assert.throws(
    () => softmaxCrossEntropy(logits, tf.ones([3, 2])),
    /same shape/,
  );
});
