/**
 * Transfer learning on the model side (cpu backend): freezing by count and
 * by name, the head replacement, the trainable/non-trainable split of the
 * summary, and `trainable` in model.json, read back by simdnet and by
 * `@tensorflow/tfjs-layers`.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert/strict";
import { cifarCnn } from "../src/nn/cifar_cnn.ts";
import {
  ModelFormatError,
  modelFromArtifacts,
  modelToArtifacts,
} from "../src/nn/model_io.ts";
import type { Sequential } from "../src/nn/sequential.ts";
import {
  freezeLayers,
  frozenLayerNames,
  replaceHead,
} from "../src/nn/transfer.ts";
import { smallModel } from "./_train_fixtures.ts";

await tf.setBackend("cpu");

const small = () => cifarCnn({ seed: 3, inputShape: [8, 8, 3], classes: 4 });

async function valuesOf(model: Sequential, name: string) {
  const w = (await model.getWeights()).find((v) => v.name === name);
  assert.ok(w, `no weight ${name}`);
  return w.values;
}

Deno.test("transfer: freezeLayers takes a count or a layer name, and names the layers when unknown", () => {
  const model = small();
  assert.deepEqual(freezeLayers(model, 2), ["conv2d", "conv2d_1"]);
  assert.deepEqual(model.layers.map((l) => l.trainable).slice(0, 3), [
    false,
    false,
    true,
  ]);
  assert.deepEqual(freezeLayers(model, "conv2d_2"), [
    "conv2d",
    "conv2d_1",
    "max_pooling2d",
    "dropout",
    "conv2d_2",
  ]);
  // A smaller count unfreezes the rest again.
  assert.deepEqual(freezeLayers(model, 0), []);
  assert.throws(
    () => freezeLayers(model, "conv9"),
    /^RangeError: no layer named 'conv9' to freeze; the layers are conv2d, conv2d_1, max_pooling2d, .*, dense_1$/,
  );
  assert.throws(
    () => freezeLayers(model, 13),
    /cannot freeze 13 layers: the model has 12/,
  );
  assert.deepEqual(frozenLayerNames(model), []);
  model.dispose();
});

Deno.test("transfer: replaceHead puts a fresh seeded Dense of the new size in place of the last layer", async () => {
  const a = small();
  const oldKernel = await valuesOf(a, "dense_1/kernel");
  const done = replaceHead(a, 7, { seed: 11 });
  assert.deepEqual(done, {
    old: "dense_1",
    oldUnits: 4,
    name: "dense_head",
    units: 7,
  });
  const head = a.layers.at(-1)!;
  assert.equal(head.name, "dense_head");
  assert.equal(head.trainable, true);
  assert.deepEqual(a.outputShape, [7]);
  assert.deepEqual(a.weights.slice(-2).map((w) => [w.name, w.variable.shape]), [
    ["dense_head/kernel", [512, 7]],
    ["dense_head/bias", [7]],
  ]);
  const kernel = await valuesOf(a, "dense_head/kernel");
  assert.ok(kernel.some((v) => v !== 0));
  assert.deepEqual(await valuesOf(a, "dense_head/bias"), new Float32Array(7));
  assert.notDeepEqual(kernel.slice(0, 4), oldKernel.slice(0, 4));
  // Same seed, same weights; another seed, others. Replacing twice keeps
  // the name free of the head it replaces.
  const b = small();
  replaceHead(b, 7, { seed: 11 });
  assert.deepEqual(await valuesOf(b, "dense_head/kernel"), kernel);
  const c = small();
  replaceHead(c, 7, { seed: 12 });
  assert.notDeepEqual(await valuesOf(c, "dense_head/kernel"), kernel);
  c.dispose();
  assert.equal(replaceHead(b, 3, { seed: 12 }).name, "dense_head");
  assert.match(a.summary(null), /dense_head \(Dense\)\s+\(None, 7\)\s+3591/);
  const y = a.apply(tf.zeros([2, 8, 8, 3]));
  assert.deepEqual(y.shape, [2, 7]);
  tf.dispose(y);
  a.dispose();
  b.dispose();
  // A head needs at least two classes.
  const odd = smallModel(1);
  assert.throws(() => replaceHead(odd, 1), /whole number of classes >= 2/);
  odd.dispose();
});

Deno.test("transfer: trainable survives model.json, and tfjs-layers reads it with the same param split as summary()", async () => {
  const model = small();
  replaceHead(model, 5, { seed: 2 });
  // Frozen: both conv blocks and the dense layer, so every layer class
  // writes its flag.
  freezeLayers(model, "dense");
  const summary = model.summary(null);
  const { json, weights } = await modelToArtifacts(model);
  const flags = json.modelTopology.config.layers.map((l) => l.config.trainable);
  assert.deepEqual(flags, [
    ...Array(10).fill(false),
    ...Array(2).fill(true),
  ]);
  const back = modelFromArtifacts(json, weights);
  assert.deepEqual(frozenLayerNames(back), frozenLayerNames(model));
  assert.equal(back.summary(null), summary);

  const theirs = await tfl.loadLayersModel(tf.io.fromMemory({
    modelTopology: json.modelTopology,
    weightSpecs: json.weightsManifest[0]!.weights,
    weightData: weights.slice().buffer,
  }));
  assert.deepEqual(theirs.layers.map((l) => l.trainable), flags);
  const count = (ws: tfl.LayerVariable[]) =>
    ws.reduce((n, w) => n + w.read().size, 0);
  const trainable = count(theirs.trainableWeights);
  const frozen = count(theirs.nonTrainableWeights);
  assert.equal(trainable + frozen, theirs.countParams());
  const fmt = (n: number) => n.toLocaleString("en-US");
  assert.match(summary, new RegExp(`\nTrainable params: ${fmt(trainable)}\n`));
  assert.match(summary, new RegExp(`\nNon-trainable params: ${fmt(frozen)}\n`));
  assert.ok(frozen > 0 && trainable > 0);
  theirs.dispose();
  back.dispose();
  model.dispose();
});

Deno.test("transfer: a trainable flag that is not a boolean is refused", async () => {
  const model = small();
  const { json, weights } = await modelToArtifacts(model);
  json.modelTopology.config.layers[1]!.config.trainable = "no";
  assert.throws(
    () => modelFromArtifacts(json, weights),
    (e) =>
      e instanceof ModelFormatError &&
      /layer 'conv2d_1' has trainable "no"; it must be true or false/.test(
        e.message,
      ),
  );
  model.dispose();
});
