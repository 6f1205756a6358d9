/**
 * One training step and one epoch of `fit` (fit.ts holds the options,
 * phases, resuming and checkpoints around them).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { oneHotBatch } from "../data/batch.ts";
import { imageBytes, type ImageSet } from "../data/image_set.ts";
import type { Model } from "../nn/model.ts";
import type { Rng } from "../util/random.ts";
import type { Optimizer } from "./optimizer.ts";
import { augmentBatch, type AugmentOptions } from "./augment.ts";
import { type BatchTensors, batchTensors } from "./batch.ts";
import type { BatchSource } from "./batch_source.ts";
import { evaluate } from "./evaluate.ts";
import {
  correctCount,
  regularizationLoss,
  smoothLabels,
  softmaxCrossEntropy,
} from "./loss.ts";
import { Progbar, type ProgressOutput } from "./progress.ts";

/** Metrics of one epoch (validation ones only with validation data). */
export interface EpochLogs {
  loss: number;
  accuracy: number;
  val_loss?: number;
  val_accuracy?: number;
  /** The learning rate of the epoch's last step (Keras 3's key). */
  learning_rate?: number;
}

/** Training hit a NaN or infinite loss; the weights of the last epoch are in the checkpoint. */
export class NonFiniteLossError extends Error {
  /** Creates the error for 0-based `epoch` and `step`. */
  constructor(
    message: string,
    readonly epoch: number,
    readonly step: number,
    readonly checkpoint: string | null,
  ) {
    super(message);
    this.name = "NonFiniteLossError";
  }
}

interface Step {
  loss: number;
  correct: number;
}

/** How the loss is formed: label smoothing (0: none). */
interface LossSettings {
  labelSmoothing: number;
}

/**
 * Runs one optimisation step; skips the update when the loss is not
 * finite. The loss is the cross-entropy (of smoothed labels with label
 * smoothing) plus every layer's regularization loss, inside the tape so
 * the regularizers get their gradients. Only the trainable layers' variables get gradients, and the
 * leading layers that hold nothing trainable run before the gradient tape
 * starts, so frozen conv blocks cost a forward pass and no backward pass.
 */
async function trainStep(
  model: Model,
  optimizer: Optimizer,
  batch: () => { x: tf.Tensor4D; y: tf.Tensor2D; labels: tf.Tensor1D },
  rng: Rng,
  augment: AugmentOptions | null,
  lossSettings: LossSettings,
): Promise<Step> {
  const vars = model.trainableVariables;
  const start = model.frozenPrefix;
  const out = tf.tidy(() => {
    const b = batch();
    const x = augment ? augmentBatch(b.x, rng, augment) : b.x;
    // Dropout seeds are drawn in layer order either way, so freezing does
    // not change which masks the trainable layers get.
    const ctx = {
      training: true,
      logits: true,
      nextSeed: () => rng.nextUint32(),
    };
    const features = model.applyLayers(x, 0, start, ctx);
    let correct: tf.Scalar | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.applyLayers(
        features,
        start,
        model.layers.length,
        ctx,
      );
      correct = tf.keep(correctCount(logits, b.labels));
      const y = lossSettings.labelSmoothing > 0
        ? smoothLabels(b.y, lossSettings.labelSmoothing)
        : b.y;
      const ce = softmaxCrossEntropy(logits, y);
      const reg = regularizationLoss(model.layers);
      return reg === null ? ce : tf.add(ce, reg) as tf.Scalar;
    }, vars);
    return {
      loss: value,
      correct: correct!,
      grads: vars.map((v) => grads[v.name]!),
    };
  });
  try {
    const loss = (await out.loss.data())[0]!;
    const correct = (await out.correct.data())[0]!;
    if (Number.isFinite(loss)) optimizer.applyGradients(out.grads);
    return { loss, correct };
  } finally {
    tf.dispose([out.loss, out.correct, ...out.grads]);
  }
}

/** What one epoch needs. */
export interface EpochContext {
  model: Model;
  optimizer: Optimizer;
  /** Called before each step: sets the optimizer's rate for it (the schedule). */
  beforeStep: () => void;
  /** Called after each step's update (the lookahead). */
  afterStep: () => void;
  /** Steps the run may still take (a total-step limit), or Infinity. */
  stepsLeft: () => number;
  /** The batches' float images, or null for `byte / 255` (with `augment`). */
  batches: BatchSource | null;
  /** Skip the last partial batch of each epoch. */
  dropRemainder: boolean;
  /** Label smoothing of the cross-entropy, in [0, 1); 0: none. */
  labelSmoothing: number;
  rng: Rng;
  train: ImageSet;
  validation: ImageSet | null;
  classes: number;
  batchSize: number;
  shuffle: boolean;
  augment: AugmentOptions | null;
  verbose: 0 | 1 | 2;
  output: ProgressOutput;
  /** Total epochs of the run, for "Epoch 3/5". */
  epochs: number;
  /** Says where the last good weights are, for the NaN error. */
  kept: () => { text: string; checkpoint: string | null };
  onBatchEnd?: (
    step: number,
    logs: { loss: number; accuracy: number },
  ) => void | Promise<void>;
}

function diverged(
  c: EpochContext,
  loss: number,
  epoch: number,
  step: number,
): NonFiniteLossError {
  const kept = c.kept();
  const lower = Number((c.optimizer.learningRate / 10).toPrecision(2));
  return new NonFiniteLossError(
    `loss became ${loss} at epoch ${epoch + 1}, step ${step + 1}; ` +
      `training stopped and ${kept.text}. Lower the learning rate ` +
      `(e.g. --lr ${lower}) and retrain`,
    epoch,
    step,
    kept.checkpoint,
  );
}

/** One batch's tensors, its images from the batch source when there is one. */
function epochBatch(
  c: EpochContext,
  indices: Uint32Array,
  epoch: number,
): BatchTensors {
  const { train, classes } = c;
  if (!c.batches) return batchTensors(train, indices, classes);
  const n = indices.length;
  const images = c.batches.images(indices, epoch, c.rng);
  const want = n * imageBytes(train.shape);
  if (images.length !== want) {
    throw new RangeError(
      `the batch source '${c.batches.description}' gave ${images.length} ` +
        `floats for ${n} images of [${train.shape}], which need ${want}`,
    );
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = train.labels[indices[i]!]!;
  return {
    x: tf.tensor4d(images, [n, ...train.shape]),
    y: tf.tensor2d(oneHotBatch(train.labels, indices, classes), [n, classes]),
    labels: tf.tensor1d(labels, "int32"),
  };
}

/**
 * Trains one epoch (0-based `epoch`) with a Keras progress bar, then
 * validates. Throws {@linkcode NonFiniteLossError} on a NaN or infinite
 * loss.
 */
export async function runEpoch(
  c: EpochContext,
  epoch: number,
): Promise<EpochLogs> {
  const { train, batchSize, verbose, output } = c;
  if (verbose) output.write(`Epoch ${epoch + 1}/${c.epochs}\n`);
  const n = train.count;
  const steps = Math.min(
    c.dropRemainder ? Math.floor(n / batchSize) : Math.ceil(n / batchSize),
    c.stepsLeft(),
  );
  const bar = verbose ? new Progbar(steps, { verbose, output }) : null;
  const order = c.shuffle
    ? c.rng.permutation(n)
    : Uint32Array.from({ length: n }, (_, i) => i);
  let lossSum = 0;
  let correct = 0;
  let seen = 0;
  for (let s = 0; s < steps; s++) {
    const indices = order.subarray(
      s * batchSize,
      Math.min(n, (s + 1) * batchSize),
    );
    c.beforeStep();
    const step = await trainStep(
      c.model,
      c.optimizer,
      () => epochBatch(c, indices, epoch),
      c.rng,
      c.augment,
      { labelSmoothing: c.labelSmoothing },
    );
    if (!Number.isFinite(step.loss)) {
      if (bar && output.isTTY) output.write("\n");
      throw diverged(c, step.loss, epoch, s);
    }
    c.afterStep();
    lossSum += step.loss * indices.length;
    correct += step.correct;
    seen += indices.length;
    bar?.update(s + 1, [["loss", lossSum / seen], [
      "accuracy",
      correct / seen,
    ]]);
    await c.onBatchEnd?.(s, {
      loss: step.loss,
      accuracy: step.correct / indices.length,
    });
  }
  const logs: EpochLogs = { loss: lossSum / seen, accuracy: correct / seen };
  if (c.validation) {
    const v = await evaluate(c.model, c.validation, batchSize);
    logs.val_loss = v.loss;
    logs.val_accuracy = v.accuracy;
  }
  logs.learning_rate = c.optimizer.learningRate;
  bar?.finish(Object.entries(logs) as Array<[string, number]>);
  return logs;
}
