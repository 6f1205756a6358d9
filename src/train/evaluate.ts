/**
 * Batched evaluation: loss and accuracy over a labelled image set, one batch
 * of activations alive at a time.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { probabilities } from "../nn/model_output.ts";
import type { Model } from "../nn/model.ts";
import type { ImageSet } from "../data/image_set.ts";
import { batchTensors, checkImages } from "./batch.ts";
import { correctCount, softmaxCrossEntropy } from "./loss.ts";
import { resolveTta, ttaProbabilities, type TtaSetting } from "./tta.ts";

/** Mean loss and accuracy. */
export interface Evaluation {
  loss: number;
  accuracy: number;
}

/** Options of {@linkcode evaluate} and {@linkcode predictImages}. */
export interface EvaluateOptions {
  /**
   * Test-time augmentation: average the probabilities of each image and its
   * mirror (`true`), or of the views `{ flip, translate }` asks for (see
   * `tta.ts`). Default none.
   */
  tta?: TtaSetting;
}

// Keras' categorical cross-entropy on probabilities clips them to
// [1e-7, 1 - 1e-7]; averaged TTA probabilities have no logits to work from.
const EPSILON = 1e-7;

/** Cross-entropy sum and hit count of averaged probabilities `[n, classes]`. */
function probabilityScores(
  probs: tf.Tensor,
  onehot: tf.Tensor,
  labels: tf.Tensor,
): [tf.Scalar, tf.Scalar] {
  return tf.tidy(() => {
    const clipped = tf.clipByValue(probs, EPSILON, 1 - EPSILON);
    const loss = tf.neg(tf.sum(tf.mul(onehot, tf.log(clipped))));
    return [loss as tf.Scalar, correctCount(probs, labels)];
  });
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
 * image, computed `batchSize` images at a time in inference mode. With
 * `options.tta` both come from the averaged probabilities (the loss then
 * clipped as Keras clips probabilities).
 */
export async function evaluate(
  model: Model,
  data: ImageSet,
  batchSize = 32,
  options: EvaluateOptions = {},
): Promise<Evaluation> {
  const tta = resolveTta(options.tta);
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
      if (tta !== null) {
        const probs = ttaProbabilities(
          b.x as tf.Tensor4D,
          (x) => probabilities(model, x),
          tta,
        );
        return probabilityScores(probs, b.y, b.labels);
      }
      const logits = model.apply(b.x, { training: false, logits: true });
      return [softmaxCrossEntropy(logits, b.y), correctCount(logits, b.labels)];
    });
    // The plain loss is a batch mean, the TTA one a batch sum.
    lossSum += (await loss.data())[0]! * (tta === null ? n : 1);
    correct += (await hits.data())[0]!;
    tf.dispose([loss, hits]);
  }
  return { loss: lossSum / data.count, accuracy: correct / data.count };
}

/**
 * Class probabilities for every image, `batchSize` at a time, as one
 * `count x classes` array: the model's softmax, or the softmax of its
 * logits when its last layer is linear; averaged over the views of
 * `options.tta` when given.
 */
export async function predictImages(
  model: Model,
  data: ImageSet,
  batchSize = 32,
  options: EvaluateOptions = {},
): Promise<Float32Array> {
  const shape = imageShape(model);
  const classes = classCount(model);
  checkImages(data, shape, classes, "prediction data");
  const out = new Float32Array(data.count * classes);
  for (let start = 0; start < data.count; start += batchSize) {
    const n = Math.min(batchSize, data.count - start);
    const indices = Array.from({ length: n }, (_, i) => start + i);
    const probs = tf.tidy(() =>
      ttaProbabilities(
        batchTensors(data, indices, classes).x as tf.Tensor4D,
        (x) => probabilities(model, x),
        options.tta,
      )
    );
    out.set((await probs.data()) as Float32Array, start * classes);
    probs.dispose();
  }
  return out;
}
