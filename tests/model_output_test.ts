/**
 * Softmax and logits heads (`src/nn/model_output.ts`) on the `cpu` backend:
 * the kind is read from the last layer's activation config, a linear head's
 * outputs are treated as logits everywhere (evaluation loss, probabilities,
 * the report's predictions) against float64 softmax and cross-entropy by
 * hand, a softmax head and a linear head with the same weights train to
 * the same weights, and a layer that ignores `ctx.logits` is caught.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import type { ImageSet } from "../src/data/image_set.ts";
import { Dense } from "../src/nn/dense.ts";
import { Flatten } from "../src/nn/flatten.ts";
import type {
  ApplyContext,
  Layer,
  LayerPlan,
  NamedWeight,
} from "../src/nn/layer.ts";
import {
  logitsProblem,
  modelOutput,
  probabilities,
} from "../src/nn/model_output.ts";
import { Sequential } from "../src/nn/sequential.ts";
import { buildReportData } from "../src/report/build_report_data.ts";
import { Classifier } from "../src/serve/classifier.ts";
import { evaluate, predictImages } from "../src/train/evaluate.ts";
import { fit } from "../src/train/fit.ts";
import { Rng } from "../src/util/random.ts";
import { quadrants, weightsOf } from "./_train_fixtures.ts";
import { convHeadNet } from "./classify_fixtures.ts";

await tf.setBackend("cpu");

/** A weightless softmax layer, as `Activation("softmax")`; `honest` skips it for logits. */
class SoftmaxLayer implements Layer {
  readonly className = "Activation";
  name = "";
  trainable = true;
  readonly weights: readonly NamedWeight[] = [];
  constructor(readonly honest: boolean, readonly activation = "softmax") {}
  plan(inputShape: readonly number[]): LayerPlan {
    return { output: [...inputShape], weights: [] };
  }
  build(inputShape: readonly number[]): number[] {
    return [...inputShape];
  }
  apply(x: tf.Tensor, ctx: ApplyContext): tf.Tensor {
    if (this.activation === "sigmoid") return tf.sigmoid(x);
    return ctx.logits && this.honest ? x : tf.softmax(x);
  }
  config(): Record<string, unknown> {
    return { name: this.name, activation: this.activation };
  }
}

function convNet(head: "softmax" | "linear", seed: number): Sequential {
  return convHeadNet([8, 8, 3], 4, head, seed);
}

/** Float64 softmax of each row of `v` (`k` columns). */
function softmaxRows(v: ArrayLike<number>, k: number): Float64Array {
  const out = Float64Array.from(v);
  for (let r = 0; r < out.length / k; r++) {
    const row = out.subarray(r * k, (r + 1) * k);
    const max = Math.max(...row);
    let sum = 0;
    for (let i = 0; i < k; i++) sum += row[i] = Math.exp(row[i]! - max);
    for (let i = 0; i < k; i++) row[i]! /= sum;
  }
  return out;
}

function asBatch(data: ImageSet): tf.Tensor {
  const [h, w, c] = data.shape;
  return tf.tensor4d(Float32Array.from(data.images, (b) => b / 255), [
    data.count,
    h,
    w,
    c,
  ]);
}

Deno.test("model output: the kind comes from the last layer's activation", () => {
  const kinds = [
    [convNet("softmax", 1), "softmax"],
    [convNet("linear", 1), "logits"],
  ] as const;
  for (const [m, kind] of kinds) {
    assert.equal(modelOutput(m).kind, kind);
    assert.equal(modelOutput(m).className, "Dense");
    m.dispose();
  }
  const fake = (activation: unknown) => ({
    layers: [{
      name: "head",
      className: "Activation",
      config: () => ({ activation }),
    }],
  });
  assert.deepEqual(modelOutput(fake("sigmoid")), {
    kind: "other",
    layer: "head",
    className: "Activation",
    activation: "sigmoid",
  });
  assert.equal(modelOutput(fake(undefined)).kind, "logits");
  assert.equal(
    modelOutput(fake({ class_name: "Softmax", config: {} })).kind,
    "softmax",
  );
});

Deno.test("model output: a linear head is evaluated and predicted as logits (float64 reference)", async () => {
  const data = quadrants(12, 5);
  const m = convNet("linear", 3);
  const x = asBatch(data);
  const y = m.apply(x);
  const want = softmaxRows(await y.data(), 4);
  let loss = 0;
  let hits = 0;
  for (let i = 0; i < data.count; i++) {
    const row = Array.from(want.subarray(i * 4, i * 4 + 4));
    loss -= Math.log(row[data.labels[i]!]!) / data.count;
    if (row.indexOf(Math.max(...row)) === data.labels[i]) hits++;
  }
  const p = probabilities(m, x);
  const got = await p.data();
  assert.ok(got.every((v, i) => Math.abs(v - want[i]!) < 1e-6));
  const predicted = await predictImages(m, data, 5);
  assert.ok(predicted.every((v, i) => Math.abs(v - want[i]!) < 1e-6));
  const result = await evaluate(m, data, 5);
  assert.ok(Math.abs(result.loss - loss) < 1e-5, `${result.loss} vs ${loss}`);
  assert.equal(result.accuracy, hits / data.count);
  // The report's predictions are the arg-max of those probabilities.
  const report = await buildReportData({
    model: m,
    history: { loss: [], accuracy: [], val_loss: [], val_accuracy: [] },
    train: data,
    evaluated: data,
    evaluation: result,
    settings: {},
    batchSize: 5,
    seed: 1,
    classNames: ["a", "b", "c", "d"],
  });
  for (let i = 0; i < data.count; i++) {
    const row = Array.from(want.subarray(i * 4, i * 4 + 4));
    assert.equal(report.yPred[i], row.indexOf(Math.max(...row)));
  }
  tf.dispose([x, y, p]);
  m.dispose();
});

Deno.test("model output: softmax and linear heads with the same weights train to the same weights", async () => {
  const data = quadrants(24, 8);
  const options = {
    epochs: 2,
    batchSize: 8,
    augment: false,
    verbose: 0,
    seed: 4,
  } as const;
  const soft = convNet("softmax", 6);
  const lin = convNet("linear", 6);
  assert.deepEqual(await weightsOf(soft), await weightsOf(lin));
  const a = await fit(soft, data, options);
  const b = await fit(lin, data, options);
  assert.deepEqual(a.loss, b.loss);
  assert.deepEqual(await weightsOf(soft), await weightsOf(lin));
  // Training moved them: the comparison is not of untouched weights.
  const fresh = convNet("linear", 6);
  assert.notDeepEqual(await weightsOf(fresh), await weightsOf(lin));
  [soft, lin, fresh].forEach((m) => m.dispose());
});

Deno.test("model output: a softmax layer that ignores ctx.logits is caught, an honest one is not", async () => {
  const rng = new Rng(2);
  const x = tf.tensor(
    Float32Array.from({ length: 2 * 192 }, () => rng.next()),
    [2, 8, 8, 3],
  );
  const build = (layer: Layer) =>
    new Sequential([
      new Flatten(),
      new Dense({ units: 5, activation: "linear" }),
      layer,
    ], { inputShape: [8, 8, 3], seed: 2 });
  const liar = build(new SoftmaxLayer(false));
  assert.match(
    (await logitsProblem(liar, x)) ?? "",
    /^layer 'activation' \(Activation\) applies softmax even when training asks for logits/,
  );
  const honest = build(new SoftmaxLayer(true));
  assert.equal(await logitsProblem(honest, x), null);
  const plainLogits = convNet("linear", 1);
  assert.equal(await logitsProblem(plainLogits, x), null);
  const sigmoid = build(new SoftmaxLayer(true, "sigmoid"));
  assert.equal(modelOutput(sigmoid).kind, "other");
  [liar, honest, plainLogits, sigmoid].forEach((m) => m.dispose());
  x.dispose();
});

Deno.test("model output: the Classifier gives softmax of a linear head and does not apply softmax twice after Activation('softmax')", async () => {
  const rng = new Rng(12);
  const count = 3;
  const x = Float32Array.from({ length: count * 192 }, () => rng.next());
  const batch = tf.tensor4d(x, [count, 8, 8, 3]);
  const cases = [
    ["linear Dense", convNet("linear", 5), true],
    [
      "Activation softmax",
      new Sequential([
        new Flatten(),
        new Dense({ units: 4, activation: "linear" }),
        new SoftmaxLayer(true),
      ], { inputShape: [8, 8, 3], seed: 5 }),
      false,
    ],
  ] as const;
  for (const [what, m, logits] of cases) {
    const y = m.apply(batch);
    const raw = await y.data();
    y.dispose();
    const want = logits ? softmaxRows(raw, 4) : Float64Array.from(raw);
    const classifier = await Classifier.fromModel(m, { backend: "cpu" });
    const got = await classifier.predictPixels(x, count);
    assert.ok(got.every((v, i) => Math.abs(v - want[i]!) < 1e-6), what);
    classifier.dispose();
  }
  batch.dispose();
});

Deno.test("logits: only the output layer skips its softmax; a softmax inside the network still runs", () => {
  const model = new Sequential([
    new Flatten(),
    new Dense({ units: 4, activation: "softmax" }),
    new Dense({ units: 3, activation: "softmax" }),
  ], { inputShape: [2, 2, 1], seed: 3 });
  const x = tf.randomUniform([5, 2, 2, 1], 0, 1, "float32", 7);
  const [, inner, head] = model.layers as Dense[];
  const flat = tf.reshape(x, [5, 4]);
  const hidden = tf.softmax(tf.add(
    tf.matMul(flat, inner!.weights[0]!.variable),
    inner!.weights[1]!.variable,
  ));
  const want = tf.add(
    tf.matMul(hidden, head!.weights[0]!.variable),
    head!.weights[1]!.variable,
  );
  const got = model.apply(x, { training: false, logits: true });
  const diff = tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]!;
  assert.ok(
    diff < 1e-6,
    `logits differ from the hand-computed ones by ${diff}`,
  );
  tf.dispose([x, flat, hidden, want, got]);
  model.dispose();
});
