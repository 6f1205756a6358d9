/**
 * The report on models other than the seed CNN (`cpu` backend): its
 * feature maps are the outputs of the convolution layers the model has,
 * in order, whatever their names, and a model without any (an MLP) gets
 * none and still writes its report.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { MaxPooling2D } from "../src/nn/max_pooling2d.ts";
import { Sequential } from "../src/nn/sequential.ts";
import { buildReportData } from "../src/report/build_report_data.ts";
import { writeReport } from "../src/report/write_report.ts";
import { evaluate } from "../src/train/evaluate.ts";
import { quadrants } from "./_train_fixtures.ts";

await tf.setBackend("cpu");

async function report(model: Sequential) {
  const data = quadrants(6, 2);
  return await buildReportData({
    model,
    history: { loss: [], accuracy: [], val_loss: [], val_accuracy: [] },
    train: data,
    evaluated: data,
    evaluation: await evaluate(model, data, 3),
    settings: {},
    batchSize: 3,
    seed: 1,
  });
}

Deno.test("report: feature maps are the conv layers present, by class not name, with their own shapes", async () => {
  const model = new Sequential([
    new Conv2D({ filters: 3, kernelSize: 3, name: "stem", activation: "relu" }),
    new MaxPooling2D({ poolSize: 2, name: "conv_like_name_pool" }),
    new Conv2D({ filters: 5, kernelSize: 1, name: "mix", padding: "same" }),
    new Flatten({ name: "conv_flat" }),
    new Dense({ units: 4, activation: "softmax", name: "conv_head" }),
  ], { inputShape: [8, 8, 3], seed: 3 });
  const data = await report(model);
  const layers = data.featureMaps!.layers;
  assert.deepEqual(
    layers.map((l) => [l.name, l.height, l.width, l.channels]),
    [["stem", 6, 6, 3], ["mix", 3, 3, 5]],
  );
  // The maps are the layers' real outputs for the picked image.
  const [h, w, c] = [8, 8, 3];
  const x = tf.tensor4d(
    Float32Array.from(data.featureMaps!.input, (b) => b / 255),
    [1, h, w, c],
  );
  const stem = model.layers[0]!.apply(x, { training: false });
  const want = await stem.data();
  assert.ok(layers[0]!.data.every((v, i) => Math.abs(v - want[i]!) < 1e-6));
  tf.dispose([x, stem]);
  model.dispose();
});

Deno.test("report: a model without conv layers has no feature maps and still writes its report", async () => {
  const mlp = new Sequential([
    new Flatten(),
    new Dense({ units: 16, activation: "relu", name: "conv_named_dense" }),
    new Dense({ units: 4, activation: "linear" }),
  ], { inputShape: [8, 8, 3], seed: 4 });
  const data = await report(mlp);
  assert.deepEqual(data.featureMaps!.layers, []);
  const dir = await Deno.makeTempDir({ prefix: "simdnet_report_mlp_" });
  try {
    await writeReport(dir, data, "en");
    const html = await Deno.readTextFile(`${dir}/report.html`);
    assert.match(html, /conv_named_dense/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  mlp.dispose();
});
