/**
 * A Keras 3 functional `model.json` written out by hand, as the
 * tensorflowjs converter emits it for Keras 3 (`Functional`, `batch_shape`,
 * `inbound_nodes` of `args` holding `__keras_tensor__`s with
 * `keras_history`, single `input_layers` / `output_layers` triples), loads
 * and computes what the same network written with tfjs ops computes.
 * Runs on the `cpu` backend.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { modelFromArtifacts } from "../src/nn/model_io.ts";
import { registerGradients } from "../src/runtime/gradients.ts";
import { Rng } from "../src/util/random.ts";

await tf.setBackend("cpu");
registerGradients();

function tensor(layer: string, shape: (number | null)[]) {
  return {
    class_name: "__keras_tensor__",
    config: { shape, dtype: "float32", keras_history: [layer, 0, 0] },
  };
}

const TOPOLOGY = {
  module: "keras.src.models.functional",
  class_name: "Functional",
  config: {
    name: "functional",
    trainable: true,
    layers: [
      {
        module: "keras.layers",
        class_name: "InputLayer",
        config: {
          batch_shape: [null, 5, 5, 2],
          dtype: "float32",
          sparse: false,
          name: "input_layer",
        },
        registered_name: null,
        name: "input_layer",
        inbound_nodes: [],
      },
      {
        module: "keras.layers",
        class_name: "Conv2D",
        config: {
          name: "conv2d",
          trainable: true,
          dtype: "float32",
          filters: 2,
          kernel_size: [3, 3],
          strides: [1, 1],
          padding: "same",
          data_format: "channels_last",
          dilation_rate: [1, 1],
          groups: 1,
          activation: "relu",
          use_bias: true,
        },
        registered_name: null,
        build_config: { input_shape: [null, 5, 5, 2] },
        name: "conv2d",
        inbound_nodes: [{
          args: [tensor("input_layer", [null, 5, 5, 2])],
          kwargs: {},
        }],
      },
      {
        module: "keras.layers",
        class_name: "Add",
        config: { name: "add", trainable: true, dtype: "float32" },
        registered_name: null,
        build_config: { input_shape: [[null, 5, 5, 2], [null, 5, 5, 2]] },
        name: "add",
        inbound_nodes: [{
          args: [[
            tensor("input_layer", [null, 5, 5, 2]),
            tensor("conv2d", [null, 5, 5, 2]),
          ]],
          kwargs: {},
        }],
      },
      {
        module: "keras.layers",
        class_name: "Flatten",
        config: {
          name: "flatten",
          trainable: true,
          dtype: "float32",
          data_format: "channels_last",
        },
        registered_name: null,
        name: "flatten",
        inbound_nodes: [{
          args: [tensor("add", [null, 5, 5, 2])],
          kwargs: {},
        }],
      },
      {
        module: "keras.layers",
        class_name: "Dense",
        config: {
          name: "dense",
          trainable: true,
          dtype: "float32",
          units: 3,
          activation: "softmax",
          use_bias: true,
        },
        registered_name: null,
        build_config: { input_shape: [null, 50] },
        name: "dense",
        inbound_nodes: [{
          args: [tensor("flatten", [null, 50])],
          kwargs: {},
        }],
      },
    ],
    input_layers: ["input_layer", 0, 0],
    output_layers: ["dense", 0, 0],
  },
  registered_name: "Functional",
  build_config: { input_shape: null },
};

Deno.test("keras 3: a hand-written Keras 3 functional model.json computes the network's formula", () => {
  const rng = new Rng(3);
  const shapes: [string, number[]][] = [
    ["conv2d/kernel", [3, 3, 2, 2]],
    ["conv2d/bias", [2]],
    ["dense/kernel", [50, 3]],
    ["dense/bias", [3]],
  ];
  const values = shapes.map(([, s]) =>
    new Float32Array(s.reduce((a, b) => a * b, 1)).map(() => rng.uniform(-1, 1))
  );
  const bytes = new Uint8Array(values.reduce((n, v) => n + 4 * v.length, 0));
  let at = 0;
  for (const v of values) {
    bytes.set(new Uint8Array(v.buffer), at);
    at += 4 * v.length;
  }
  const json = {
    format: "layers-model",
    generatedBy: "keras v3.3.3",
    convertedBy: "TensorFlow.js Converter v4.22.0",
    modelTopology: {
      keras_version: "3.3.3",
      backend: "tensorflow",
      ...TOPOLOGY,
    },
    weightsManifest: [{
      paths: ["group1-shard1of1.bin"],
      weights: shapes.map(([name, shape]) => ({
        name,
        shape,
        dtype: "float32",
      })),
    }],
  };
  const model = modelFromArtifacts(json, bytes);
  assert.equal(model.inputName, "input_layer");
  assert.deepEqual(model.layers.map((l) => l.name), [
    "conv2d",
    "add",
    "flatten",
    "dense",
  ]);
  const x = tf.tensor(
    new Float32Array(4 * 50).map(() => rng.next()),
    [4, 5, 5, 2],
  ) as tf.Tensor4D;
  const [k, b, w, c] = values.map((v, i) => tf.tensor(v, shapes[i]![1]));
  const want = tf.tidy(() => {
    const conv = tf.relu(tf.add(tf.conv2d(x, k as tf.Tensor4D, 1, "same"), b!));
    const flat = tf.reshape(tf.add(x, conv), [4, 50]);
    return tf.softmax(tf.add(tf.matMul(flat, w as tf.Tensor2D), c!));
  });
  const got = model.apply(x);
  const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]!);
  assert.ok(diff < 1e-5, `differs by ${diff}`);
  tf.dispose([x, k!, b!, w!, c!, want, got]);
  model.dispose();
});
