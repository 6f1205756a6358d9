/**
 * Functional models against tfjs-layers 4.22 (the reference, in the child
 * process of `_tfl_reference.ts`: tfjs' `cpu` backend with tfjs' own
 * gradient configs): residual networks built and saved by tfjs-layers load
 * in simdnet with the same outputs and gradients on wasm at 1 and 2
 * threads (and webgpu when an adapter exists), simdnet's functional models
 * load in tfjs-layers, the Keras 2 and 3 converter layouts, summary().
 *
 * The child imports this module for its tables: the top level only builds
 * them (seeded, the same in both processes); the runtime starts in the
 * tests.
 */

import * as tf from "@tensorflow/tfjs-core";
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
  randomShape,
  relErr,
  type ResNetShape,
  tflResNet,
} from "./_graph_fixtures.ts";
import {
  readReference,
  type Reference,
  type ReferenceSpec,
  runSimdnet,
  spec,
  TFJS_ONLY_GRADIENTS,
  TflReference,
} from "./_tfl_reference.ts";
import { compare, runConformance } from "./_tfl_conformance.ts";

const ready = () => initRuntime({ backend: "wasm", threads: 2 });

// The tolerances and floors of layers_reference_test.ts, whose comment has
// the measurements behind them.
const TOLERANCES = {
  output: [1e-4, 2e-2] as const,
  grad: [1e-3, 2e-2] as const,
};

function resNetSpec(name: string, s: ResNetShape, seed: number): ReferenceSpec {
  return {
    ...spec(
      `${name} ${JSON.stringify(s)}`,
      (L) => tflResNet(L, s),
      [s.size, s.size, s.channels],
      seed,
    ),
    // Inputs in [0, 0.25): with He-scale weights, three residual blocks and
    // a Multiply gate, [0, 1) drove logits to ~1e2 on a 10x10 net, where
    // Keras' cross-entropy clips the probability at 1e-7 (loss 13.2 where
    // the exact one is 16.6) and only the loss is compared, not the math.
    inputRange: [0, 0.25],
  };
}

const shapes = new Rng(20261202);

/** Residual nets on random shapes, through the whole conformance run. */
export const RESNET_SPECS: ReferenceSpec[] = [0, 1].map((i) =>
  resNetSpec(`residual net ${i}`, randomShape(shapes), 400 + i)
);

/** One more for the converter layouts, one for summary(). */
export const OTHER_RESNETS: ReferenceSpec[] = [
  resNetSpec(
    "residual net for the converter layouts",
    randomShape(shapes),
    410,
  ),
  resNetSpec("residual net for summary", randomShape(shapes), 411),
];

/** The child's reference of `s` (built, saved and run there) in `dir`. */
async function referenceOf(
  child: TflReference,
  s: ReferenceSpec,
  dir: string,
): Promise<Reference> {
  await Deno.mkdir(dir, { recursive: true });
  await child.run({
    module: import.meta.url,
    specs: ["OTHER_RESNETS"],
    items: [{ dir, build: s.name, seed: s.seed, batch: 2 }],
  });
  return await readReference(dir);
}

Deno.test("functional: simdnet's gradient configs are in force; tfjs-layers' never enter the test process", async () => {
  await ready();
  // tfjs-core's npm entry registers none: these are simdnet's.
  for (const k of [tf.Conv2D, tf.Add, tf.Multiply, tf.Concat]) {
    assert.ok(tf.getGradient(k), `${k}: simdnet registered no config`);
  }
  for (const k of TFJS_ONLY_GRADIENTS) {
    assert.equal(tf.getGradient(k), undefined, `${k}: tfjs' config is here`);
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

/**
 * simdnet's residual net, saved by simdnet, run by tfjs-layers in the
 * child: same layers, weights, outputs and gradients; what tfjs-layers
 * writes back has the same topology and loads in simdnet again.
 */
async function simdnetInTfl(child: TflReference, dir: string): Promise<void> {
  const s = randomShape(new Rng(412));
  const ours = ourResNet(s, 7);
  try {
    const { json, weights } = await modelToArtifacts(ours);
    assert.equal(json.modelTopology.class_name, "Model");
    json.weightsManifest[0]!.paths = ["weights.bin"];
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeFile(`${dir}/weights.bin`, weights);
    await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(json));
    await child.run({
      module: import.meta.url,
      specs: [],
      items: [{ dir, seed: 412, batch: 3, resave: true }],
    });
    const ref = await readReference(dir);
    assert.deepEqual(ref.info.layerNames, [
      ours.inputName,
      ...ours.layers.map((l) => l.name),
    ]);
    assert.deepEqual(ref.info.weightNames, ours.weights.map((w) => w.name));
    await tf.setBackend("wasm");
    setKernelThreads(2);
    await compare(ref, "simdnet model in tfjs-layers", TOLERANCES);
    // The topology is written as tfjs-layers writes it: same class, keys,
    // layer entries and connections.
    const again = JSON.parse(
      await Deno.readTextFile(`${dir}/resaved/model.json`),
    ) as ModelJson;
    const topo = (j: ModelJson) => j.modelTopology as unknown as Topology;
    const [mineT, theirT] = [topo(json), topo(again)];
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
    // And back: what tfjs-layers saved of it loads in simdnet again.
    const back = modelFromArtifacts(
      again,
      await Deno.readFile(`${dir}/resaved/weights.bin`),
    );
    try {
      const x = tf.tensor(ref.x, ref.info.inputShape);
      const [a, b] = [ours.apply(x), back.apply(x)];
      const e = relErr(await a.data(), await b.data());
      assert.ok(e <= 1e-6, `round trip: outputs differ by ${e}`);
      tf.dispose([x, a, b]);
    } finally {
      back.dispose();
    }
  } finally {
    ours.dispose();
  }
}

/** The reference's topology as the Keras 2 and 3 converters write it. */
function layouts(ref: Reference): [string, Record<string, unknown>][] {
  const topology = ref.json.modelTopology as Record<string, unknown>;
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
  return [["Keras 2", keras2], ["Keras 3", keras3]].map(([what, t]) => [
    what as string,
    { ...ref.json, modelTopology: t },
  ]);
}

/** The reference is a functional model (the layouts rewrite its graph). */
function checkLayouts(ref: Reference): void {
  assert.equal(ref.info.sequential, false);
}

/** simdnet's summary() of the reference's model against tfjs-layers'. */
function checkSummary(ref: Reference): void {
  const lines = ref.info.summary!;
  const ours = modelFromArtifacts(ref.json, ref.weights);
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
}

Deno.test("functional: tfjs-layers residual nets load with the same outputs and gradients at 1 and 2 threads; simdnet's load in tfjs-layers and back; Keras 2 and 3 layouts; summary", async (t) => {
  await ready();
  const child = TflReference.start();
  const root = await Deno.makeTempDir({ prefix: "simdnet_functional_" });
  try {
    await runConformance(t, {
      module: import.meta.url,
      groups: [{ name: "RESNET_SPECS", specs: RESNET_SPECS, mustLoad: true }],
      batch: 3,
      ...TOLERANCES,
      child,
    });
    await t.step(
      "a simdnet-built residual net loads in tfjs-layers with the same layers, weights, outputs and gradients, and back",
      () => simdnetInTfl(child, `${root}/ours`),
    );
    await t.step(
      "Keras 3 and Keras 2 converter layouts load with tfjs-layers' outputs and gradients",
      async () => {
        const ref = await referenceOf(child, OTHER_RESNETS[0]!, `${root}/k`);
        checkLayouts(ref);
        await tf.setBackend("wasm");
        setKernelThreads(2);
        for (const [what, json] of layouts(ref)) {
          await compare({ ...ref, json }, what, TOLERANCES);
        }
      },
    );
    await t.step("1 and 2 threads agree with each other to 1e-5", async () => {
      const ref = await referenceOf(child, OTHER_RESNETS[0]!, `${root}/k`);
      await tf.setBackend("wasm");
      setKernelThreads(1);
      const a = await runSimdnet(ref);
      setKernelThreads(2);
      const b = await runSimdnet(ref);
      assert.ok(relErr(a.out, b.out) <= 1e-5, "outputs");
      for (const [name, g] of a.grads) {
        assert.ok(relErr(g, b.grads.get(name)!) <= 1e-5, `d loss / d ${name}`);
      }
    });
    await t.step(
      "summary has Keras' Connected to column and tfjs-layers' connections and parameter counts",
      async () => {
        const ref = await referenceOf(child, OTHER_RESNETS[1]!, `${root}/s`);
        checkSummary(ref);
      },
    );
  } finally {
    await child.close();
    await Deno.remove(root, { recursive: true });
  }
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
