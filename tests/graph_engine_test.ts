/**
 * The graph engine itself on the `cpu` backend: the frozen prefix of a
 * graph and passes split there, intermediates freed after their last
 * reader, merge layers against tfjs ops, transfer learning on a graph,
 * and fit() training a residual network.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { connect, Input, type SymbolicTensor } from "../src/nn/graph.ts";
import type {
  ApplyContext,
  Layer,
  LayerPlan,
  NamedWeight,
} from "../src/nn/layer.ts";
import { MaxPooling2D } from "../src/nn/max_pooling2d.ts";
import { Add, Concatenate, Multiply } from "../src/nn/merge_layers.ts";
import { Model } from "../src/nn/model.ts";
import {
  loadModel,
  modelFromArtifacts,
  modelToArtifacts,
  saveModel,
} from "../src/nn/model_io.ts";
import { freezeLayers, replaceHead } from "../src/nn/transfer.ts";
import { registerGradients } from "../src/runtime/gradients.ts";
import { Classifier } from "../src/serve/classifier.ts";
import { fit } from "../src/train/fit.ts";
import { Rng } from "../src/util/random.ts";
import { quadrants } from "./_train_fixtures.ts";

await tf.setBackend("cpu");
registerGradients();
const rng = new Rng(77);

function randomTensor(shape: number[]): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(new Float32Array(n).map(() => rng.uniform(-1, 1)), shape);
}

/** stem conv, three residual blocks (pooling after the second), dense head. */
function resNet(seed: number, classes = 4): Model {
  const conv = (activation: "relu" | "linear") =>
    new Conv2D({ filters: 4, kernelSize: 3, padding: "same", activation });
  const input = Input({ shape: [8, 8, 3] });
  let x: SymbolicTensor = connect(conv("relu"), input);
  for (let b = 0; b < 3; b++) {
    const y = connect(conv("linear"), connect(conv("relu"), x));
    x = connect(new Add(), [x, y]);
    if (b === 1) x = connect(new MaxPooling2D(), x);
  }
  const out = connect(
    new Dense({ units: classes, activation: "softmax" }),
    connect(new Flatten(), x),
  );
  return new Model({ inputs: input, outputs: out, seed });
}

async function values(t: tf.Tensor): Promise<Float32Array> {
  const v = await t.data() as Float32Array;
  t.dispose();
  return v;
}

Deno.test("graph engine: the frozen prefix stops where the graph branches, and a pass split there is the whole pass", async () => {
  const model = resNet(1);
  // Layers: conv2d (stem), conv2d_1, conv2d_2, add, conv2d_3, ...
  const names = model.layers.map((l) => l.name);
  assert.deepEqual(names.slice(0, 5), [
    "conv2d",
    "conv2d_1",
    "conv2d_2",
    "add",
    "conv2d_3",
  ]);
  assert.equal(model.frozenPrefix, 0);
  const x = randomTensor([2, 8, 8, 3]);
  const whole = await values(model.apply(x));
  const check = async (spec: string) => {
    freezeLayers(model, spec);
    const k = model.frozenPrefix;
    // Every later layer reads layer k-1's output or newer.
    model.nodes.slice(k).forEach((n) =>
      assert.ok(n.inputs.every((i) => i >= k - 1), `${spec}: ${k}`)
    );
    const ctx = { training: false };
    const h = model.applyLayers(x, 0, k, ctx);
    const split = await values(model.applyLayers(h, k, names.length, ctx));
    h.dispose();
    assert.deepEqual(split, whole, spec);
    return k;
  };
  // The stem alone: block 1 reads only its output.
  assert.equal(await check("conv2d"), 1);
  // Through block 1's first conv: its Add still reads the stem, so the
  // pass can only be split after the stem.
  assert.equal(await check("conv2d_1"), 1);
  // Through block 1: the Add's output carries everything on.
  assert.equal(await check("add"), 4);
  assert.throws(
    () => model.applyLayers(x, 2, names.length, { training: false }),
    /cannot start a pass at layer 2/,
  );
  x.dispose();
  model.dispose();
});

/** A layer adding 1 that records how many tensors are alive when it runs. */
class Spy implements Layer {
  readonly className = "Spy";
  name = "";
  trainable = true;
  readonly weights: NamedWeight[] = [];
  constructor(readonly seen: number[]) {}
  build(shape: readonly number[]): number[] {
    return [...shape];
  }
  plan(shape: readonly number[]): LayerPlan {
    return { output: [...shape], weights: [] };
  }
  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    this.seen.push(tf.memory().numTensors);
    return tf.tidy(() => tf.add(x, 1));
  }
  config(): Record<string, unknown> {
    return { name: this.name };
  }
}

Deno.test("graph engine: a pass frees each intermediate after its last reader", async () => {
  const seen: number[] = [];
  const input = Input({ shape: [5] });
  // Forty layers in a chain, with a skip around each pair.
  let x: SymbolicTensor = input;
  for (let i = 0; i < 20; i++) {
    const y = connect(new Spy(seen), connect(new Spy(seen), x));
    x = connect(new Add(), [x, y]);
  }
  const model = new Model({ inputs: input, outputs: x });
  const before = tf.memory().numTensors;
  const xs = tf.ones([3, 5]);
  const y = model.apply(xs);
  // Each block adds 3 in a row: ones + 20 * 3 (x doubles + 2 each block).
  let want = 1;
  for (let i = 0; i < 20; i++) want = 2 * want + 2;
  assert.deepEqual(Array.from(await y.data()), new Array(15).fill(want));
  // Alive at any layer: the input, the block's input and at most two more.
  const peak = Math.max(...seen) - before;
  assert.ok(peak <= 4, `${peak} tensors alive in a 60-layer pass`);
  tf.dispose([xs, y]);
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

Deno.test("graph engine: merge layers equal tfjs ops, Concatenate on any non-batch axis", async () => {
  for (let trial = 0; trial < 4; trial++) {
    const shape = [
      1 + rng.int(3),
      1 + rng.int(4),
      1 + rng.int(4),
      1 + rng.int(4),
    ];
    const a = randomTensor(shape);
    const b = randomTensor(shape);
    const axis = [1, 2, 3, -1, -2, -3][rng.int(6)]!;
    const cases: [string, tf.Tensor, tf.Tensor][] = [
      ["add", new Add().apply([a, b], { training: false }), tf.add(a, b)],
      [
        "multiply",
        new Multiply().apply([a, b, a], { training: false }),
        tf.mul(tf.mul(a, b), a),
      ],
      [
        `concatenate ${axis}`,
        new Concatenate({ axis }).apply([a, b], { training: false }),
        tf.concat([a, b], axis < 0 ? 4 + axis : axis),
      ],
    ];
    for (const [what, got, want] of cases) {
      assert.deepEqual(got.shape, want.shape, what);
      assert.deepEqual(await got.data(), await want.data(), what);
      const planned = what.startsWith("concatenate")
        ? new Concatenate({ axis }).plan([shape.slice(1), shape.slice(1)])
          .output
        : new Add().plan([shape.slice(1), shape.slice(1)]).output;
      if (what !== "multiply") {
        assert.deepEqual(planned, want.shape.slice(1), what);
      }
    }
    tf.dispose([a, b, ...cases.flatMap(([, g, w]) => [g, w])]);
  }
  assert.throws(
    () => new Concatenate({ axis: 0 }).plan([[2], [2]]),
    /axis 0 does not name a non-batch axis/,
  );
  assert.deepEqual(new Add().plan([[4, 1, 3], [4, 5, 1]]).output, [4, 5, 3]);
});

Deno.test("graph engine: replaceHead and freezeLayers work on a graph and survive a save", async () => {
  const model = resNet(3, 10);
  const head = replaceHead(model, 3, { seed: 4 });
  assert.equal(head.oldUnits, 10);
  assert.deepEqual(model.outputShape, [3]);
  const frozen = freezeLayers(model, "add");
  assert.deepEqual(frozen, ["conv2d", "conv2d_1", "conv2d_2", "add"]);
  const { json, weights } = await modelToArtifacts(model);
  const copy = modelFromArtifacts(json, weights);
  assert.deepEqual(
    copy.layers.map((l) => l.trainable),
    model.layers.map((l) => l.trainable),
  );
  assert.equal(copy.frozenPrefix, model.frozenPrefix);
  const x = randomTensor([2, 8, 8, 3]);
  assert.deepEqual(await values(copy.apply(x)), await values(model.apply(x)));
  tf.dispose(x);
  copy.dispose();
  model.dispose();
});

function crossEntropy(
  model: Model,
  images: Uint8Array,
  labels: Uint8Array,
): number {
  return tf.tidy(() => {
    const x = tf.div(
      tf.tensor(images, [labels.length, 8, 8, 3], "float32"),
      255,
    );
    const p = model.predict(x).dataSync();
    let sum = 0;
    labels.forEach((c, i) => (sum -= Math.log(Math.max(p[i * 4 + c]!, 1e-7))));
    return sum / labels.length;
  });
}

Deno.test("graph engine: fit trains a residual network for one epoch and its loss falls", async () => {
  const data = quadrants(192, 5);
  const model = resNet(6);
  const before = crossEntropy(model, data.images, data.labels);
  const stem = model.weights.slice(0, 2);
  const frozenVars = stem.map((w) => w.variable.dataSync().slice());
  freezeLayers(model, "conv2d");
  const history = await fit(model, data, {
    epochs: 1,
    batchSize: 16,
    learningRate: 3e-3,
    verbose: 0,
    seed: 1,
  });
  const after = crossEntropy(model, data.images, data.labels);
  assert.equal(history.loss.length, 1);
  assert.ok(after < before * 0.9, `loss ${before} -> ${after}`);
  // The frozen stem kept its weights.
  stem.forEach((w, i) =>
    assert.deepEqual(w.variable.dataSync(), frozenVars[i])
  );
  model.dispose();
});

Deno.test("graph engine: a functional model is saved, loaded, classified and shows its feature maps", async () => {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_graph_" });
  const model = resNet(8);
  const classNames = ["north-west", "north-east", "south-west", "south-east"];
  try {
    await saveModel(model, dir, { classNames });
    const loaded = await loadModel(dir);
    const x = tf.randomUniform([3, 8, 8, 3], 0, 1, "float32", 9) as tf.Tensor4D;
    const want = await model.predict(x).data();
    assert.deepEqual(await values(loaded.predict(x)), want);
    const maps = loaded.activations(x);
    assert.deepEqual(
      maps.map((m) => m.name),
      loaded.layers.filter((l) => l.name.includes("conv")).map((l) => l.name),
    );
    tf.dispose(maps.map((m) => m.output));
    loaded.dispose();
    const classifier = await Classifier.load(dir, { backend: "cpu" });
    const got = await classifier.classifyBatch(x, { topK: 1 });
    got.forEach(([best], i) => {
      const row = Array.from(want.slice(i * 4, i * 4 + 4));
      assert.equal(best!.index, row.indexOf(Math.max(...row)));
      assert.equal(best!.label, classNames[best!.index]);
    });
    classifier.dispose();
    tf.dispose(x);
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
