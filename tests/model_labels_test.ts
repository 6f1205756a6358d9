/**
 * Class names, input shape and normalization saved in `model.json`'s
 * `userDefinedMetadata`: the round trip (non-ASCII, 50 classes), tfjs-layers
 * reading them, refusal of bad metadata in one line, and models without
 * metadata keeping CIFAR-10's or `class i` names.
 */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import * as tfl from "@tensorflow/tfjs-layers";
import { CIFAR10_CLASSES_EN } from "../src/data/classes.ts";
import {
  loadModel,
  type ModelJson,
  modelMetadata,
  modelToArtifacts,
  saveModel,
  WEIGHTS_FILE,
} from "../src/nn/model_io.ts";
import { Classifier } from "../src/serve/classifier.ts";
import { assertModelError } from "./_model_fixtures.ts";
import { labelledModel, manyLabels, pattern } from "./classify_fixtures.ts";

await tf.setBackend("cpu");

/** 50 names in several scripts, with HTML-special characters and a long one. */
const NAMES = manyLabels(50);

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_labels_" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("labels: 50 non-ASCII class names survive saveModel and loadModel", async () => {
  await withDir(async (dir) => {
    const model = labelledModel(50, 3);
    try {
      await saveModel(model, dir, { classNames: NAMES });
    } finally {
      model.dispose();
    }
    const json = JSON.parse(await Deno.readTextFile(`${dir}/model.json`));
    assert.deepEqual(json.userDefinedMetadata.simdnet, {
      classNames: NAMES,
      inputShape: [32, 32, 3],
      normalization: { scale: 1 / 255, offset: 0 },
    });
    const loaded = await loadModel(dir);
    try {
      assert.deepEqual(modelMetadata(loaded)?.classNames, NAMES);
      // Saving a loaded model again keeps its names without being told.
      const again = await modelToArtifacts(loaded);
      assert.deepEqual(
        again.json.userDefinedMetadata,
        json.userDefinedMetadata,
      );
    } finally {
      loaded.dispose();
    }
  });
});

Deno.test("labels: tfjs-layers loads a simdnet model with its metadata intact", async () => {
  const model = labelledModel(50, 4);
  const { json, weights } = await modelToArtifacts(model, {
    classNames: NAMES,
  });
  model.dispose();
  // The same path tf.loadLayersModel takes for a model.json over http.
  const text = JSON.stringify(json);
  const artifacts = await tf.io.getModelArtifactsForJSON(
    JSON.parse(text),
    (manifest) =>
      Promise.resolve([
        manifest.flatMap((g) => g.weights),
        weights.slice().buffer,
      ]),
  );
  const theirs = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
  try {
    const meta = theirs.getUserDefinedMetadata() as {
      simdnet: { classNames: string[]; inputShape: number[] };
    };
    assert.deepEqual(meta.simdnet.classNames, NAMES);
    assert.deepEqual(meta.simdnet.inputShape, [32, 32, 3]);
    assert.deepEqual(theirs.outputs[0]!.shape, [null, 50]);
  } finally {
    theirs.dispose();
  }
});

Deno.test("labels: a classifier answers with the saved names, labelJa only for CIFAR-10", async () => {
  const model = labelledModel(50, 5);
  const custom = await modelToArtifacts(model, { classNames: NAMES });
  model.dispose();
  const c = await Classifier.fromBytes(custom.json, custom.weights, {
    backend: "cpu",
  });
  const pixels = { data: pattern(40, 30, 3, 9), width: 40, height: 30 };
  const top = await c.classify({ ...pixels, channels: 3 }, { topK: 50 });
  c.dispose();
  assert.equal(top.length, 50);
  for (const p of top) {
    assert.equal(p.label, NAMES[p.index]);
    assert.ok(!("labelJa" in p), "no made-up Japanese names");
  }

  const ten = labelledModel(10, 6);
  const cifar = await modelToArtifacts(ten, {
    classNames: CIFAR10_CLASSES_EN,
  });
  ten.dispose();
  const cc = await Classifier.fromBytes(cifar.json, cifar.weights, {
    backend: "cpu",
  });
  const [best] = await cc.classify({ ...pixels, channels: 3 });
  cc.dispose();
  assert.equal(best!.label, CIFAR10_CLASSES_EN[best!.index]);
  assert.equal(typeof best!.labelJa, "string");
});

Deno.test("labels: models without metadata keep CIFAR-10's names (10 classes) or class i", async () => {
  for (const [classes, want] of [[10, "airplane"], [4, "class 0"]] as const) {
    const model = labelledModel(classes, 7);
    const { json, weights } = await modelToArtifacts(model);
    model.dispose();
    delete json.userDefinedMetadata;
    const c = await Classifier.fromBytes(json, weights, { backend: "cpu" });
    assert.equal(c.labels[0], want);
    assert.equal(c.labels.length, classes);
    assert.equal(c.labelsJa === null, classes !== 10);
    c.dispose();
  }
});

Deno.test("labels: a model saved with another normalization gets byte * scale + offset", async () => {
  const model = labelledModel(4, 8);
  const plain = await modelToArtifacts(model);
  const scaled = await modelToArtifacts(model, {
    normalization: { scale: 2 / 255, offset: -1 },
  });
  const x = tf.tensor4d(
    Float32Array.from(pattern(32, 32, 3, 2), (v) => 2 * v / 255 - 1),
    [1, 32, 32, 3],
  );
  const want = await (model.apply(x) as tf.Tensor).data();
  x.dispose();
  model.dispose();
  const pixels = { data: pattern(32, 32, 3, 2), width: 32, height: 32 };
  for (const [art, same] of [[scaled, true], [plain, false]] as const) {
    const c = await Classifier.fromBytes(art.json, art.weights, {
      backend: "cpu",
    });
    const got = await c.classify({ ...pixels, channels: 3 }, { topK: 4 });
    c.dispose();
    const diff = Math.max(
      ...got.map((p) => Math.abs(p.probability - want[p.index]!)),
    );
    assert.equal(diff < 1e-5, same, `normalization applied: ${diff}`);
  }
});

/** Bad metadata and what the one-line error must say. */
const BAD: [string, (json: ModelJson) => void, RegExp][] = [
  ["not an array", (j) => {
    j.userDefinedMetadata!.simdnet.classNames = "cat,dog";
  }, /classNames must be an array of strings/],
  ["too few names", (j) => {
    (j.userDefinedMetadata!.simdnet.classNames as string[]).pop();
  }, /has 4 names but the model has 5 classes/],
  ["an empty name", (j) => {
    (j.userDefinedMetadata!.simdnet.classNames as string[])[2] = "";
  }, /classNames\[2\] is "".*not a non-empty string/],
  ["a name of 257 characters", (j) => {
    (j.userDefinedMetadata!.simdnet.classNames as string[])[1] = "x"
      .repeat(257);
  }, /classNames\[1\] is "x+\.\.\., not a non-empty string of at most 256/],
  ["a newline in a name", (j) => {
    (j.userDefinedMetadata!.simdnet.classNames as string[])[3] = "cat\nerror";
  }, /classNames\[3\] is "cat\\nerror", with a control character/],
  ["a number for a name", (j) => {
    (j.userDefinedMetadata!.simdnet.classNames as unknown[])[0] = 7;
  }, /classNames\[0\] is 7/],
  ["metadata that is no object", (j) => {
    (j as unknown as Record<string, unknown>).userDefinedMetadata = [1];
  }, /userDefinedMetadata is \[1\], not an object/],
  ["another input shape", (j) => {
    j.userDefinedMetadata!.simdnet.inputShape = [64, 64, 3];
  }, /inputShape is \[64,64,3\] but the topology's input is \[32,32,3\]/],
  ["a zero scale", (j) => {
    j.userDefinedMetadata!.simdnet.normalization = { scale: 0, offset: 0 };
  }, /normalization is .* scale != 0/],
];

Deno.test("labels: bad metadata is refused in one line naming model.json", async () => {
  const model = labelledModel(5, 9);
  const { json, weights } = await modelToArtifacts(model, {
    classNames: ["a", "b", "c", "d", "e"],
  });
  model.dispose();
  await withDir(async (dir) => {
    await Deno.writeFile(`${dir}/${WEIGHTS_FILE}`, weights);
    for (const [what, edit, pattern] of BAD) {
      const bad = structuredClone(json);
      edit(bad);
      await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(bad));
      const file = new RegExp(`^${dir}/model\\.json: .*${pattern.source}`);
      await assertModelError(loadModel(dir), file, what);
      await assertModelError(
        Classifier.fromBytes(bad, weights, { backend: "cpu" }),
        pattern,
        what,
      );
    }
  });
});

Deno.test("labels: saving refuses names that do not fit the model", async () => {
  const model = labelledModel(3, 10);
  try {
    await assert.rejects(
      modelToArtifacts(model, { classNames: ["a", "b"] }),
      /classNames has 2 names but the model has 3 classes/,
    );
    await assert.rejects(
      modelToArtifacts(model, { classNames: ["a", "", "c"] }),
      /classNames\[1\] is ""/,
    );
  } finally {
    model.dispose();
  }
});
