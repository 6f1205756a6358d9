/**
 * Model files in the TF.js Layers format: simdnet round trips, interchange
 * with `@tensorflow/tfjs-layers` in both directions, the layouts the
 * tensorflowjs converter writes, and clear errors for broken files. Runs on
 * the `cpu` backend.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import assert from "node:assert/strict";
import { cifarCnn } from "../src/nn/cifar_cnn.ts";
import {
  loadModel,
  ModelFormatError,
  modelFromArtifacts,
  type ModelJson,
  modelToArtifacts,
  saveModel,
  WEIGHTS_FILE,
} from "../src/nn/model_io.ts";
import type { Model } from "../src/nn/model.ts";
import { maxDiff, tinyModel } from "./classify_fixtures.ts";

await tf.setBackend("cpu");

function input(n: number, seed: number): tf.Tensor4D {
  return tf.randomUniform([n, 32, 32, 3], 0, 1, "float32", seed);
}

async function predict(model: Model, x: tf.Tensor): Promise<Float32Array> {
  const y = model.apply(x);
  const out = await y.data() as Float32Array;
  y.dispose();
  return out;
}

/** Serves `dir` read-only on 127.0.0.1 until `close` is called. */
function serveDir(dir: string) {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (req) => {
      const name = new URL(req.url).pathname.slice(1);
      try {
        return new Response(await Deno.readFile(`${dir}/${name}`));
      } catch {
        return new Response("not found", { status: 404 });
      }
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/`,
    close: () => server.shutdown(),
  };
}

Deno.test("model_io: save then load (dir, model.json, file: URL, http URL) predicts the same", async () => {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_model_io_" });
  const http = serveDir(dir);
  const model = tinyModel(11);
  const x = input(3, 1);
  try {
    await saveModel(model, dir);
    const want = await predict(model, x);
    for (
      const source of [
        dir,
        `${dir}/`,
        `${dir}/model.json`,
        new URL(`file://${dir}/`),
        http.url,
        `${http.url}model.json`,
      ]
    ) {
      const loaded = await loadModel(source);
      assert.deepEqual(await predict(loaded, x), want, String(source));
      assert.equal(loaded.summary(null), model.summary(null));
      loaded.dispose();
    }
  } finally {
    x.dispose();
    model.dispose();
    await http.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("model_io: the seed CNN saved by simdnet loads in tfjs-layers and predicts the same within 1e-5", async () => {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_model_io_" });
  const http = serveDir(dir);
  const model = cifarCnn({ seed: 5 });
  const x = input(4, 2);
  try {
    await saveModel(model, dir);
    const theirs = await tfl.loadLayersModel(`${http.url}model.json`);
    assert.equal(theirs.layers.length, model.layers.length);
    assert.deepEqual(
      theirs.layers.map((l) => l.name),
      model.layers.map((l) => l.name),
    );
    assert.equal(theirs.countParams(), model.countParams());
    const y = theirs.predict(x) as tf.Tensor;
    const got = await y.data();
    const want = await predict(model, x);
    assert.ok(maxDiff(got, want) < 1e-5, `max diff ${maxDiff(got, want)}`);
    y.dispose();
    theirs.dispose();
  } finally {
    x.dispose();
    model.dispose();
    await http.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** The seed CNN built with tfjs-layers' own API and initialisers. */
function tflSeedCnn(): tfl.Sequential {
  const m = tfl.sequential();
  const conv = (filters: number, first = false) =>
    tfl.layers.conv2d({
      ...(first ? { inputShape: [32, 32, 3] } : {}),
      filters,
      kernelSize: 3,
      padding: "same",
      activation: "relu",
    });
  m.add(conv(32, true));
  m.add(conv(32));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.dropout({ rate: 0.25 }));
  m.add(conv(64));
  m.add(conv(64));
  m.add(tfl.layers.maxPooling2d({ poolSize: 2 }));
  m.add(tfl.layers.dropout({ rate: 0.25 }));
  m.add(tfl.layers.flatten());
  m.add(tfl.layers.dense({ units: 512, activation: "relu" }));
  m.add(tfl.layers.dropout({ rate: 0.5 }));
  m.add(tfl.layers.dense({ units: 10, activation: "softmax" }));
  return m;
}

Deno.test("model_io: a model built and saved with tfjs-layers (two shards) loads in simdnet", async () => {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_model_io_" });
  const theirs = tflSeedCnn();
  const x = input(4, 3);
  try {
    let artifacts: tf.io.ModelArtifacts | undefined;
    await theirs.save(tf.io.withSaveHandler((a) => {
      artifacts = a;
      return Promise.resolve({
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: "JSON",
        },
      });
    }));
    const a = artifacts!;
    const bytes = new Uint8Array(
      tf.io.CompositeArrayBuffer.join(a.weightData!),
    );
    // Split like the converter does for large models (at a 4-byte boundary).
    const cut = 4 * Math.floor(bytes.length / 8);
    const paths = ["group1-shard1of2.bin", "group1-shard2of2.bin"];
    await Deno.writeFile(`${dir}/${paths[0]}`, bytes.subarray(0, cut));
    await Deno.writeFile(`${dir}/${paths[1]}`, bytes.subarray(cut));
    await Deno.writeTextFile(
      `${dir}/model.json`,
      JSON.stringify({
        format: a.format,
        generatedBy: a.generatedBy,
        convertedBy: a.convertedBy ?? null,
        modelTopology: a.modelTopology,
        weightsManifest: [{ paths, weights: a.weightSpecs }],
      }),
    );
    const ours = await loadModel(dir);
    assert.equal(ours.countParams(), theirs.countParams());
    const y = theirs.predict(x) as tf.Tensor;
    const want = await y.data();
    const got = await predict(ours, x);
    assert.ok(maxDiff(got, want) < 1e-5, `max diff ${maxDiff(got, want)}`);
    y.dispose();
    ours.dispose();
  } finally {
    x.dispose();
    theirs.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("model_io: the tensorflowjs converter's Keras layout (model_config, InputLayer, scoped names) loads", async () => {
  const model = tinyModel(12);
  const x = input(2, 4);
  try {
    const { json, weights } = await modelToArtifacts(model);
    const layers = json.modelTopology.config.layers.map((l) => ({
      class_name: l.class_name,
      config: { ...l.config },
    }));
    delete layers[0]!.config.batch_input_shape;
    const converted = {
      format: "layers-model",
      generatedBy: "keras v3.4.1",
      convertedBy: "TensorFlow.js Converter v4.22.0",
      modelTopology: {
        keras_version: "3.4.1",
        backend: "tensorflow",
        model_config: {
          class_name: "Sequential",
          config: {
            name: "sequential",
            layers: [
              {
                class_name: "InputLayer",
                config: { batch_shape: [null, 32, 32, 3], name: "input_layer" },
              },
              ...layers,
            ],
          },
        },
      },
      weightsManifest: [{
        paths: [WEIGHTS_FILE],
        weights: json.weightsManifest[0]!.weights.map((w) => ({
          ...w,
          name: `sequential/${w.name}`,
        })),
      }],
    };
    const loaded = modelFromArtifacts(converted, weights);
    assert.deepEqual(await predict(loaded, x), await predict(model, x));
    loaded.dispose();
  } finally {
    x.dispose();
    model.dispose();
  }
});

Deno.test("model_io: broken or mismatched model files name what is wrong", async () => {
  const model = tinyModel(13);
  const { json, weights } = await modelToArtifacts(model);
  model.dispose();
  const clone = (): ModelJson => structuredClone(json);
  const specs = (j: ModelJson) => j.weightsManifest[0]!.weights;
  const kernel = "conv2d/kernel";
  const cases: [string, () => unknown, RegExp][] = [
    ["invalid JSON", () => modelFromArtifacts("{", weights), /not valid JSON/],
    [
      "a graph model",
      () => modelFromArtifacts({ format: "graph-model" }, weights),
      /no modelTopology/,
    ],
    [
      "truncated weights",
      () => modelFromArtifacts(json, weights.subarray(0, 440)),
      /weight 'conv2d\/bias' needs bytes 432\.\.448 but the weight files hold only 440 bytes/,
    ],
    [
      "extra bytes",
      () => modelFromArtifacts(json, new Uint8Array(weights.length + 8)),
      /hold \d+ bytes but the manifest describes \d+/,
    ],
    [
      "a wrong shape",
      () => {
        const j = clone();
        specs(j)[0]!.shape = [3, 3, 3, 5];
        return modelFromArtifacts(j, weights);
      },
      /weight 'conv2d\/kernel' has shape \[3,3,3,5\] in the manifest, but the topology needs \[3,3,3,4\]/,
    ],
    ["a wrong dtype", () => {
      const j = clone();
      (specs(j)[1] as { dtype: string }).dtype = "int32";
      return modelFromArtifacts(j, weights);
    }, /weight 'conv2d\/bias' has dtype "int32"/],
    [
      "an unknown name",
      () => {
        const j = clone();
        specs(j)[2]!.name = "dense_9/kernel";
        return modelFromArtifacts(j, weights);
      },
      /weight 'dense_9\/kernel' \(manifest entry 3\) is not a weight of the topology/,
    ],
    ["a missing weight", () => {
      const j = clone();
      j.weightsManifest[0]!.weights = specs(j).slice(0, 3);
      return modelFromArtifacts(j, weights.subarray(0, weights.length - 40));
    }, /the manifest lacks weight 'dense\/bias'/],
    ["a NaN in the weights", () => {
      const broken = weights.slice();
      new DataView(broken.buffer).setFloat32(8, NaN, true);
      return modelFromArtifacts(json, broken);
    }, new RegExp(`weight '${kernel}' holds NaN at index 2`)],
    ["an unsupported layer setting", () => {
      const j = clone();
      j.modelTopology.config.layers[0]!.config.dilation_rate = [2, 2];
      return modelFromArtifacts(j, weights);
    }, /layer 'conv2d' \(Conv2D\) uses dilation_rate other than 1/],
    ["an unsupported layer type", () => {
      const j = clone();
      j.modelTopology.config.layers[2]!.class_name = "LSTM";
      return modelFromArtifacts(j, weights);
    }, /layer 'dropout' \(LSTM\) is not supported/],
    ["no input shape", () => {
      const j = clone();
      delete j.modelTopology.config.layers[0]!.config.batch_input_shape;
      return modelFromArtifacts(j, weights);
    }, /lacks the input shape/],
  ];
  for (const [what, run, message] of cases) {
    assert.throws(run, (e: unknown) => {
      assert.ok(e instanceof ModelFormatError, `${what}: ${e}`);
      assert.match(e.message, message, what);
      return true;
    });
  }
});

Deno.test("model_io: missing files and unsafe shard paths are reported", async () => {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_model_io_" });
  const model = tinyModel(14);
  try {
    await assert.rejects(loadModel(`${dir}/nothing`), /no model at/);
    await saveModel(model, dir);
    await Deno.remove(`${dir}/${WEIGHTS_FILE}`);
    await assert.rejects(
      loadModel(dir),
      new RegExp(`weight file ${dir}/${WEIGHTS_FILE} does not exist`),
    );
    const json = JSON.parse(await Deno.readTextFile(`${dir}/model.json`));
    json.weightsManifest[0].paths = ["../../etc/passwd"];
    await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(json));
    await assert.rejects(
      loadModel(dir),
      /model\.json: weight file path "\.\.\/\.\.\/etc\/passwd" has an empty, '\.' or '\.\.' segment; weight paths must be file names inside the model's folder/,
    );
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
