/**
 * Batched evaluation: loss and accuracy over a labelled image set, one batch
 * of activations alive at a time.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import type { Model } from "../nn/model.ts";
import type { ImageSet } from "../data/image_set.ts";
import { batchTensors, checkImages } from "./batch.ts";
import { correctCount, softmaxCrossEntropy } from "./loss.ts";

/** Mean loss and accuracy. */
export interface Evaluation {
  loss: number;
  accuracy: number;
}

/** The model's input shape as an image shape, or a clear error. */
export function imageShape(model: Model): [number, number, number] {
  const [h, w, c] = model.inputShape;
  if (model.inputShape.length !== 3 || !h || !w || !c) {
    throw new Error(
      `training needs an image model with inputs [height, width, channels], ` +
        `got [${model.inputShape}]`,
    );
  }
  return [h, w, c];
}

/** Number of classes of a model whose output is `[classes]`. */
export function classCount(model: Model): number {
  const [n] = model.outputShape;
  if (model.outputShape.length !== 1 || !n || n < 2) {
    throw new Error(
      `training needs a classifier with outputs [classes >= 2], got [${model.outputShape}]`,
    );
  }
  return n;
}

/**
 * Keras' `model.evaluate`: cross-entropy and accuracy averaged over every
 * image, computed `batchSize` images at a time in inference mode.
 */
export async function evaluate(
  model: Model,
  data: ImageSet,
  batchSize = 32,
): Promise<Evaluation> {
  const shape = imageShape(model);
  const classes = classCount(model);
  checkImages(data, shape, classes, "evaluation data");
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(
      `batchSize must be a whole number >= 1, got ${batchSize}`,
    );
  }
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < data.count; start += batchSize) {
    const n = Math.min(batchSize, data.count - start);
    const indices = Array.from({ length: n }, (_, i) => start + i);
    const [loss, hits] = tf.tidy(() => {
      const b = batchTensors(data, indices, classes);
      const logits = model.apply(b.x, { training: false, logits: true });
      return [softmaxCrossEntropy(logits, b.y), correctCount(logits, b.labels)];
    });
    lossSum += (await loss.data())[0]! * n;
    correct += (await hits.data())[0]!;
    tf.dispose([loss, hits]);
  }
  return { loss: lossSum / data.count, accuracy: correct / data.count };
}

/**
 * Class probabilities for every image, `batchSize` at a time, as one
 * `count x classes` array.
 */
export async function predictImages(
  model: Model,
  data: ImageSet,
  batchSize = 32,
): Promise<Float32Array> {
  const shape = imageShape(model);
  const classes = classCount(model);
  checkImages(data, shape, classes, "prediction data");
  const out = new Float32Array(data.count * classes);
  for (let start = 0; start < data.count; start += batchSize) {
    const n = Math.min(batchSize, data.count - start);
    const indices = Array.from({ length: n }, (_, i) => start + i);
    const probs = tf.tidy(() =>
      model.apply(batchTensors(data, indices, classes).x)
    );
    out.set((await probs.data()) as Float32Array, start * classes);
    probs.dispose();
  }
  return out;
}
