/**
 * The one image pipeline on shapes other than CIFAR's: the image set, the
 * float converter (also inside the trainer's batch tensors), the split and
 * `fit`/`evaluate`, on 24x20 grey images.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { iterateBatches, toFloatBatch } from "../src/data/batch.ts";
import { limit, sliceSet, splitValidation } from "../src/data/dataset.ts";
import { DataError } from "../src/data/errors.ts";
import type { ImageSet } from "../src/data/image_set.ts";
import { Dense } from "../src/nn/dense.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { Sequential } from "../src/nn/sequential.ts";
import { registerGradients } from "../src/runtime/gradients.ts";
import { batchTensors } from "../src/train/batch.ts";
import { evaluate } from "../src/train/evaluate.ts";
import { type EpochLogs, fit } from "../src/train/fit.ts";
import { Rng } from "../src/util/random.ts";

await tf.setBackend("cpu");
registerGradients();

const SHAPE = [24, 20, 1] as const;
const SIZE = 24 * 20;

/** `count` 24x20x1 images whose bytes encode (image, position); labels i % 3. */
function greySet(count: number): ImageSet {
  const images = new Uint8Array(count * SIZE);
  for (let i = 0; i < images.length; i++) images[i] = (i * 7 + (i >> 9)) & 255;
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 3);
  return { images, labels, count, shape: SHAPE };
}

function usage(fn: () => unknown, pattern: RegExp): void {
  assert.throws(
    fn,
    (e: unknown) =>
      e instanceof DataError && e.code === "usage" && pattern.test(e.message),
  );
}

Deno.test("toFloatBatch converts 24x20x1 images: byte / 255 as float32, in index order", () => {
  const data = greySet(5);
  const x = toFloatBatch(data, [4, 0, 2]);
  assert.equal(x.length, 3 * SIZE);
  [4, 0, 2].forEach((j, i) => {
    const expected = Float32Array.from(
      data.images.subarray(j * SIZE, (j + 1) * SIZE),
      (v) => v / 255,
    );
    assert.deepEqual(x.subarray(i * SIZE, (i + 1) * SIZE), expected);
  });
  usage(() => toFloatBatch(data, [5]), /index 5 is outside 0\.\.4/);
  usage(
    () => toFloatBatch({ ...data, shape: [24, 20] as never }, [0]),
    /no valid shape/,
  );
  usage(
    () => toFloatBatch({ ...data, shape: [24, 20, 3] }, [0]),
    /inconsistent/,
  );
});

Deno.test("toFloatBatch equals float32 tf.div(x, 255) for every byte value", () => {
  // The report built its feature-map input with tf.div; the converter must
  // give the same bits so that the figures do not move.
  const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
  const data: ImageSet = {
    images: bytes,
    labels: new Uint8Array(1),
    count: 1,
    shape: [16, 16, 1],
  };
  const ours = toFloatBatch(data, [0]);
  const theirs = tf.tidy(() =>
    tf.div(tf.tensor1d(Float32Array.from(bytes)), 255).dataSync()
  );
  assert.deepEqual(ours, Float32Array.from(theirs));
});

Deno.test("batchTensors and iterateBatches keep the set's shape", () => {
  const data = greySet(6);
  const b = batchTensors(data, [5, 1], 3);
  assert.deepEqual(b.x.shape, [2, 24, 20, 1]);
  assert.deepEqual(b.x.dataSync(), toFloatBatch(data, [5, 1]));
  assert.deepEqual([...b.labels.dataSync()], [2, 1]);
  assert.deepEqual([...b.y.dataSync()], [0, 0, 1, 0, 1, 0]);
  tf.dispose([b.x, b.y, b.labels]);
  const sizes = [...iterateBatches(data, { batchSize: 4, numClasses: 3 })]
    .map((batch) => [batch.size, batch.x.length, batch.y.length]);
  assert.deepEqual(sizes, [[4, 4 * SIZE, 12], [2, 2 * SIZE, 6]]);
});

Deno.test("splitValidation on 24x20x1: the last fraction as views, or a seeded shuffle as copies", () => {
  const data = greySet(10);
  const { train, validation } = splitValidation(data, { validationSplit: 0.3 });
  assert.deepEqual([train.count, validation.count], [7, 3]);
  assert.deepEqual(train.shape, SHAPE);
  assert.deepEqual(validation.shape, SHAPE);
  assert.equal(validation.images.buffer, data.images.buffer);
  assert.deepEqual(validation.images, data.images.subarray(7 * SIZE));
  assert.deepEqual(validation.labels, data.labels.subarray(7));
  assert.deepEqual(sliceSet(data, 7, 10), validation);
  assert.deepEqual(limit(data, 7), train);

  const shuffled = splitValidation(data, {
    validationSplit: 0.3,
    shuffle: true,
    seed: 4,
  });
  assert.notEqual(shuffled.validation.images.buffer, data.images.buffer);
  assert.deepEqual(shuffled.validation.shape, SHAPE);
  // The order is the generator's permutation for that seed; `rng` may
  // replace `seed`.
  const order = new Rng(4).permutation(10);
  for (let i = 0; i < 3; i++) {
    const j = order[7 + i]!;
    assert.deepEqual(
      shuffled.validation.images.subarray(i * SIZE, (i + 1) * SIZE),
      data.images.subarray(j * SIZE, (j + 1) * SIZE),
    );
  }
  assert.deepEqual(
    splitValidation(data, {
      validationSplit: 0.3,
      shuffle: true,
      rng: new Rng(4),
    }),
    shuffled,
  );
  usage(() => splitValidation(data, { validationSplit: 1 }), /\[0, 1\)/);
});

Deno.test("fit and evaluate take 24x20x1 sets; fit's split is splitValidation's", async () => {
  const data = greySet(16);
  const model = new Sequential([
    new Flatten(),
    new Dense({ units: 3, activation: "softmax" }),
  ], { inputShape: [24, 20, 1], seed: 2 });
  let logs: EpochLogs | null = null;
  let held = { loss: NaN, accuracy: NaN };
  await fit(model, data, {
    epochs: 1,
    batchSize: 4,
    verbose: 0,
    validationSplit: 0.25,
    onEpochEnd: async (_e, l) => {
      logs = l;
      const { validation } = splitValidation(data, { validationSplit: 0.25 });
      held = await evaluate(model, validation, 4);
    },
  });
  assert.equal(logs!.val_loss, held.loss);
  assert.equal(logs!.val_accuracy, held.accuracy);
  // A set of another shape is refused, naming both shapes.
  await assert.rejects(
    evaluate(model, { ...data, shape: [20, 24, 1] }),
    /images of \[20,24,1\], but the model takes \[24,20,1\]/,
  );
  model.dispose();
});
