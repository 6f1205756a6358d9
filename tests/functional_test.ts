/**
 * Functional models against tfjs-layers 4.22 (the reference, on the tfjs
 * `cpu` backend with tfjs' own gradient configs): residual networks built
 * and saved by tfjs-layers load in simdnet with the same outputs and
 * gradients on wasm at 1 and 2 threads, simdnet's functional models load in
 * tfjs-layers, the Keras 2 and 3 converter layouts, summary(), and the graph
 * engine itself (frozen prefix, freeing intermediates).
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import type * as tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert/strict";
import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { connect, Input, type SymbolicTensor } from "../src/nn/graph.ts";
import { MaxPooling2D } from "../src/nn/max_pooling2d.ts";
import { Add, Concatenate, Multiply } from "../src/nn/merge_layers.ts";
import { Model } from "../src/nn/model.ts";
import type { ModelJson } from "../src/nn/model_json.ts";
import { modelFromArtifacts, modelToArtifacts } from "../src/nn/model_io.ts";
import { initRuntime, setKernelThreads } from "../src/runtime/init.ts";
import { Rng } from "../src/util/random.ts";
import {
  gradientSnapshot,
  loadTfl,
  randomBatch,
  randomShape,
  relErr,
  type ResNetShape,
  saveTfl,
  tflResNet,
  useGradients,
} from "./_graph_fixtures.ts";

// tfjs' configs, as importing tfjs-layers registered them, then simdnet's,
// which initRuntime registers over them.
const TFJS_GRADS = gradientSnapshot();
const info = await initRuntime({ backend: "wasm", threads: 2 });
const OUR_GRADS = gradientSnapshot();
const rng = new Rng(20261202);

Deno.test("functional: the two gradient registries really differ", () => {
  assert.ok(
    TFJS_GRADS.has(tf.Conv2D),
    "tfjs-layers registered no Conv2D gradient",
  );
  assert.notEqual(TFJS_GRADS.get(tf.Conv2D), OUR_GRADS.get(tf.Conv2D));
  assert.notEqual(TFJS_GRADS.get(tf.Add), OUR_GRADS.get(tf.Add));
  assert.equal(tf.getGradient(tf.Conv2D), OUR_GRADS.get(tf.Conv2D));
});

interface Result {
  out: Float32Array;
  grads: Map<string, Float32Array>;
}

function mse(y: tf.Tensor, t: tf.Tensor): tf.Scalar {
  return tf.mean(tf.square(tf.sub(y, t)));
}

/** tfjs-layers' outputs and weight gradients, on cpu with tfjs' configs. */
async function tflResult(
  model: tfl.LayersModel,
  x: Float32Array,
  t: Float32Array,
  s: ResNetShape,
): Promise<Result> {
  useGradients(TFJS_GRADS);
  await tf.setBackend("cpu");
  try {
    const n = x.length / (s.size * s.size * s.channels);
    const xs = tf.tensor(x, [n, s.size, s.size, s.channels]);
    const ts = tf.tensor(t, [n, s.classes]);
    const y = model.apply(xs) as tf.Tensor;
    const vars = model.weights.map((w) => w.read() as tf.Variable);
    const { grads } = tf.variableGrads(
      () => mse(model.apply(xs) as tf.Tensor, ts),
      vars,
    );
    const result = {
      out: y.dataSync().slice() as Float32Array,
      grads: new Map(model.weights.map((w, i) => [
        w.originalName,
        grads[vars[i]!.name]!.dataSync().slice() as Float32Array,
      ])),
    };
    tf.dispose([xs, ts, y, ...Object.values(grads)]);
    return result;
  } finally {
    useGradients(OUR_GRADS);
    await tf.setBackend("wasm");
  }
}

/** simdnet's outputs and weight gradients on wasm at `threads` threads. */
function ourResult(
  model: Model,
  x: Float32Array,
  t: Float32Array,
  threads: number,
): Result {
  assert.equal(tf.getBackend(), "wasm");
  setKernelThreads(threads);
  const xs = tf.tensor(x, [
    x.length / model.inputShape.reduce((a, b) => a * b),
    ...model.inputShape,
  ]);
  const ts = tf.tensor(t, [xs.shape[0]!, ...model.outputShape]);
  const y = model.apply(xs);
  const vars = model.trainableVariables;
  const { grads } = tf.variableGrads(
    () => mse(model.apply(xs, { training: true }), ts),
    vars,
  );
  const result = {
    out: y.dataSync().slice() as Float32Array,
    grads: new Map(model.trainableWeights.map((w) => [
      w.name,
      grads[w.variable.name]!.dataSync().slice() as Float32Array,
    ])),
  };
  tf.dispose([xs, ts, y, ...Object.values(grads)]);
  return result;
}

function assertSame(ref: Result, got: Result, what: string, tol = 1e-4): void {
  const err = relErr(ref.out, got.out);
  assert.ok(err <= tol, `${what}: outputs differ by ${err} (relative)`);
  assert.deepEqual([...got.grads.keys()].sort(), [...ref.grads.keys()].sort());
  for (const [name, g] of ref.grads) {
    const e = relErr(g, got.grads.get(name)!);
    assert.ok(e <= tol, `${what}: gradient of ${name} differs by ${e}`);
  }
}

Deno.test("functional: tfjs-layers residual nets load with the same outputs and gradients at 1 and 2 threads", async () => {
  assert.ok(info.threads >= 2, `wasm runs ${info.threads} thread(s)`);
  for (let trial = 0; trial < 2; trial++) {
    const s = randomShape(rng);
    await tf.setBackend("cpu");
    const theirs = tflResNet(s);
    const saved = await saveTfl(theirs);
    const { x, t } = randomBatch(rng, 2 + rng.int(3), s);
    const ref = await tflResult(theirs, x, t, s);
    theirs.dispose();
    const ours = modelFromArtifacts(saved.json, saved.weights);
    assert.deepEqual(ours.weights.map((w) => w.name), saved.names);
    const one = ourResult(ours, x, t, 1);
    const two = ourResult(ours, x, t, 2);
    assertSame(ref, one, `${JSON.stringify(s)}, 1 thread`);
    assertSame(ref, two, `${JSON.stringify(s)}, 2 threads`);
    assertSame(one, two, `${JSON.stringify(s)}, 1 vs 2 threads`, 1e-5);
    ours.dispose();
  }
});

/** The same kind of residual network, built with simdnet's own API. */
function ourResNet(s: ResNetShape, seed: number): Model {
  const conv = (filters: number, k: number, activation: "relu" | "linear") =>
    new Conv2D({ filters, kernelSize: k, padding: "same", activation });
  const input = Input({ shape: [s.size, s.size, s.channels] });
  let x: SymbolicTensor = connect(conv(s.filters, 3, "relu"), input);
  for (let b = 0; b < 3; b++) {
    const h = connect(conv(s.filters, 3, "relu"), x);
    x = connect(new Add(), [x, connect(conv(s.filters, 3, "linear"), h)]);
    if (b === 1) x = connect(new MaxPooling2D({ poolSize: 2 }), x);
  }
  x = connect(new Concatenate(), [x, connect(conv(s.filters, 1, "relu"), x)]);
  x = connect(new Multiply(), [
    x,
    connect(conv(2 * s.filters, 1, "linear"), x),
  ]);
  const out = connect(
    new Dense({ units: s.classes, activation: "softmax" }),
    connect(new Flatten(), x),
  );
  return new Model({ inputs: input, outputs: out, seed, name: "resnet" });
}

Deno.test("functional: a simdnet-built residual net loads in tfjs-layers with the same layers, weights and outputs, and back", async () => {
  const s = randomShape(rng);
  const ours = ourResNet(s, 7);
  const { json, weights } = await modelToArtifacts(ours);
  assert.equal(json.modelTopology.class_name, "Model");
  const { x, t } = randomBatch(rng, 3, s);
  const mine = ourResult(ours, x, t, 2);
  await tf.setBackend("cpu");
  const theirs = await loadTfl(json, weights);
  assert.deepEqual(
    theirs.layers.map((l) => l.name),
    [ours.inputName, ...ours.layers.map((l) => l.name)],
  );
  assert.deepEqual(
    theirs.weights.map((w) => w.originalName),
    ours.weights.map((w) => w.name),
  );
  const ref = await tflResult(theirs, x, t, s);
  assertSame(ref, mine, "simdnet model in tfjs-layers");
  // And back: what tfjs-layers saves of it loads in simdnet again.
  await tf.setBackend("cpu");
  const again = await saveTfl(theirs);
  theirs.dispose();
  // The topology is written as tfjs-layers writes it: same class, keys,
  // layer entries and connections.
  const topo = (j: ModelJson) => j.modelTopology as unknown as Topology;
  const [mineT, theirT] = [topo(json), topo(again.json)];
  assert.equal(mineT.class_name, theirT.class_name);
  assert.deepEqual(
    Object.keys(mineT.config).sort(),
    Object.keys(theirT.config).sort(),
  );
  assert.deepEqual(mineT.config.input_layers, theirT.config.input_layers);
  assert.deepEqual(mineT.config.output_layers, theirT.config.output_layers);
  mineT.config.layers.forEach((l, i) => {
    const t = theirT.config.layers[i]!;
    assert.deepEqual(Object.keys(l).sort(), Object.keys(t).sort(), l.name);
    assert.deepEqual([l.name, l.class_name, l.inbound_nodes], [
      t.name,
      t.class_name,
      t.inbound_nodes,
    ]);
  });
  await tf.setBackend("wasm");
  const back = modelFromArtifacts(again.json, again.weights);
  assertSame(mine, ourResult(back, x, t, 2), "round trip", 1e-6);
  back.dispose();
  ours.dispose();
});

type Layers = Record<string, unknown>[];

interface Topology {
  class_name: string;
  config: {
    layers: { name: string; class_name: string; inbound_nodes: unknown }[];
    input_layers: unknown;
    output_layers: unknown;
  };
}

function kerasTensor(name: string) {
  return {
    class_name: "__keras_tensor__",
    config: { shape: [null], dtype: "float32", keras_history: [name, 0, 0] },
  };
}

/** tfjs-layers' functional topology rewritten as Keras 3 writes it. */
function asKeras3(topology: Record<string, unknown>): Record<string, unknown> {
  const config = topology.config as Record<string, unknown>;
  const layers = (config.layers as Layers).map((l) => {
    const nodes = l.inbound_nodes as [string, number, number][][];
    const c = { ...(l.config as Record<string, unknown>) };
    if (l.class_name === "InputLayer") {
      c.batch_shape = c.batch_input_shape;
      delete c.batch_input_shape;
    }
    const refs = (nodes[0] ?? []).map(([name]) => kerasTensor(name));
    return {
      module: "keras.layers",
      class_name: l.class_name,
      config: c,
      registered_name: null,
      name: l.name,
      inbound_nodes: nodes.length === 0
        ? []
        : [{ args: refs.length > 1 ? [refs] : refs, kwargs: {} }],
    };
  });
  return {
    module: "keras",
    class_name: "Functional",
    config: {
      name: config.name,
      trainable: true,
      layers,
      input_layers: (config.input_layers as unknown[])[0],
      output_layers: (config.output_layers as unknown[])[0],
    },
    registered_name: "Functional",
  };
}

Deno.test("functional: Keras 3 and Keras 2 converter layouts load with tfjs-layers' outputs", async () => {
  const s = randomShape(rng);
  await tf.setBackend("cpu");
  const theirs = tflResNet(s);
  const saved = await saveTfl(theirs);
  const { x, t } = randomBatch(rng, 2, s);
  const ref = await tflResult(theirs, x, t, s);
  theirs.dispose();
  const topology = saved.json.modelTopology as unknown as Record<
    string,
    unknown
  >;
  const keras2 = {
    keras_version: "2.15.0",
    backend: "tensorflow",
    model_config: { ...topology, class_name: "Functional" },
  };
  const keras3 = {
    keras_version: "3.3.3",
    backend: "tensorflow",
    ...asKeras3(topology),
  };
  for (
    const [what, modelTopology] of [["Keras 2", keras2], ["Keras 3", keras3]]
  ) {
    const json = { ...saved.json, modelTopology } as unknown as ModelJson;
    const model = modelFromArtifacts(json, saved.weights);
    assertSame(ref, ourResult(model, x, t, 2), String(what));
    model.dispose();
  }
});

Deno.test("functional: summary has Keras' Connected to column and tfjs-layers' connections and parameter counts", async () => {
  const s = randomShape(rng);
  await tf.setBackend("cpu");
  const theirs = tflResNet(s);
  const lines: string[] = [];
  theirs.summary(undefined, undefined, (line: string) => lines.push(line));
  const saved = await saveTfl(theirs);
  theirs.dispose();
  await tf.setBackend("wasm");
  const ours = modelFromArtifacts(saved.json, saved.weights);
  const text = ours.summary(null).split("\n");
  ours.dispose();
  const count = (ls: string[], label: string) =>
    Number(
      ls.find((l) => l.startsWith(label))!.slice(label.length).replaceAll(
        ",",
        "",
      ),
    );
  for (
    const label of [
      "Total params: ",
      "Trainable params: ",
      "Non-trainable params: ",
    ]
  ) {
    assert.equal(count(text, label), count(lines, label), label);
  }
  // The last column of each row; tfjs-layers cuts it at 23 characters.
  const connections = (ls: string[], from: number) =>
    ls.filter((l) => !/^[_=]+$/.test(l) && !l.startsWith("Layer (type)"))
      .map((l) => l.slice(from).trim()).filter((c) => c !== "");
  const mine = connections(text, 65);
  const want = connections(lines, 92);
  assert.equal(mine.length, want.length, mine.join(" "));
  mine.forEach((c, i) =>
    assert.ok(c.startsWith(want[i]!), `${c} vs ${want[i]}`)
  );
  assert.ok(mine.every((c) => /^\S+\[0\]\[0\]$/.test(c)));
  assert.ok(mine.length > ours.layers.length, "merges list each input");
  assert.ok(text.every((l) => l.length <= 98));
  // Keras 2's columns: 98 wide, ends at [.33, .55, .67] of it.
  const header = text.find((l) => l.startsWith("Layer (type)"))!;
  const ends = [0.33, 0.55, 0.67].map((p) => Math.floor(98 * p));
  assert.deepEqual(
    ["Output Shape", "Param #", "Connected to"].map((h) => header.indexOf(h)),
    ends,
  );
});

Deno.test("functional: a chain-shaped Model prints Keras' sequential layout with its InputLayer", () => {
  const x = Input({ shape: [6, 6, 2], name: "pixels" });
  const y = connect(new Dense({ units: 3 }), connect(new Flatten(), x));
  const model = new Model({ inputs: x, outputs: y });
  const text = model.summary(null).split("\n");
  model.dispose();
  assert.ok(text.every((l) => l.length <= 65), text.join("\n"));
  assert.ok(text.some((l) => l.startsWith("pixels (InputLayer)")));
  assert.ok(text.some((l) => /^Total params: 219$/.test(l)), text.join("\n"));
});
