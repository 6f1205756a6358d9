/**
 * `fit`: Keras-style training of a {@linkcode Sequential} classifier with
 * Adam, categorical cross-entropy, optional augmentation, validation,
 * early stopping and resumable checkpoints.
 *
 * Reproducibility: everything random (shuffle order, augmentation, dropout
 * masks) is drawn, in a fixed order, from one {@linkcode Rng} whose
 * state is saved at each epoch end, so a run resumed from a checkpoint ends
 * with the same weights as an uninterrupted run on the same backend.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { checkValidationSplit, splitValidation } from "../data/dataset.ts";
import type { ImageSet } from "../data/image_set.ts";
import type { Sequential } from "../nn/sequential.ts";
import { registerGradients } from "../runtime/gradients.ts";
import { Adam } from "./adam.ts";
import {
  augmentBatch,
  type AugmentOptions,
  augmentSettings,
  SEED_AUGMENTATION,
} from "./augment.ts";
import { batchTensors, checkImages } from "./batch.ts";
import {
  cleanCheckpointTemps,
  type History,
  removePrevious,
  resumeCheckpoint,
  saveCheckpoint,
  type TrainState,
} from "./checkpoint.ts";
import { EarlyStopping, type EarlyStoppingOptions } from "./early_stopping.ts";
import { classCount, evaluate, imageShape } from "./evaluate.ts";
import { dataFingerprints } from "./fingerprint.ts";
import { correctCount, softmaxCrossEntropy } from "./loss.ts";
import { Progbar, type ProgressOutput, stdoutOutput } from "./progress.ts";
import { restoreState, settingsMismatch } from "./resume.ts";
import { Rng } from "../util/random.ts";

/** Metrics of one epoch (validation ones only with validation data). */
export interface EpochLogs {
  loss: number;
  accuracy: number;
  val_loss?: number;
  val_accuracy?: number;
}

/** Options of {@linkcode fit}; the defaults are the seed notebook's. */
export interface FitOptions {
  /** Total epochs (a resumed run continues up to this). Default 5. */
  epochs?: number;
  /** Default 64. */
  batchSize?: number;
  /** Reshuffle the training set before each epoch. Default true. */
  shuffle?: boolean;
  /** Adam's learning rate. Default 0.001. */
  learningRate?: number;
  /** Validation set; takes precedence over `validationSplit`, as in Keras. */
  validationData?: ImageSet | null;
  /** Hold out the last fraction of `data` for validation (Keras semantics). */
  validationSplit?: number;
  /** `true` for the seed's augmentation, or Keras-style settings. Default false. */
  augment?: boolean | AugmentOptions;
  /** Seed of the trainer's generator. Default 0. */
  seed?: number;
  /**
   * Checkpoint file, written atomically at each epoch end; the one before
   * is kept as `<name>.prev.ckpt` (see `previousPath`).
   */
  checkpoint?: string;
  /**
   * Continue from `checkpoint` instead of starting over; falls back to the
   * previous checkpoint when the latest is missing or damaged.
   */
  resume?: boolean;
  /** Where one-line warnings go (a resume fallback); default `console.warn`. */
  onWarning?: (line: string) => void;
  /** Stop when a metric stops improving. */
  earlyStopping?: EarlyStoppingOptions;
  /** Called after each epoch (and its checkpoint). */
  onEpochEnd?: (epoch: number, logs: EpochLogs) => void | Promise<void>;
  /** Called after each training step (0-based within the epoch) with that step's loss and accuracy. */
  onBatchEnd?: (
    step: number,
    logs: { loss: number; accuracy: number },
  ) => void | Promise<void>;
  /** 0 silent, 1 progress bar (plain lines when not a terminal), 2 one line per epoch. Default 1. */
  verbose?: 0 | 1 | 2;
  /** Where progress goes; default standard output. */
  output?: ProgressOutput;
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

function wholeAtLeast(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(`${name} must be a whole number >= ${min}, got ${v}`);
  }
  return v;
}

function emptyHistory(): History {
  return { loss: [], accuracy: [], val_loss: [], val_accuracy: [] };
}

interface Step {
  loss: number;
  correct: number;
}

/** Runs one optimisation step; skips the update when the loss is not finite. */
async function trainStep(
  model: Sequential,
  optimizer: Adam,
  batch: () => { x: tf.Tensor4D; y: tf.Tensor2D; labels: tf.Tensor1D },
  rng: Rng,
  augment: AugmentOptions | null,
): Promise<Step> {
  const vars = model.trainableVariables;
  const out = tf.tidy(() => {
    const b = batch();
    const x = augment ? augmentBatch(b.x, rng, augment) : b.x;
    let correct: tf.Scalar | null = null;
    const { value, grads } = tf.variableGrads(() => {
      const logits = model.apply(x, {
        training: true,
        logits: true,
        nextSeed: () => rng.nextUint32(),
      });
      correct = tf.keep(correctCount(logits, b.labels));
      return softmaxCrossEntropy(logits, b.y);
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

/**
 * Trains `model` on `data` (uint8 HWC images, converted per batch) and
 * returns Keras' `history.history`. Progress is printed like Keras'.
 * Throws {@linkcode NonFiniteLossError} if the loss becomes NaN or infinite.
 */
export async function fit(
  model: Sequential,
  data: ImageSet,
  options: FitOptions = {},
): Promise<History> {
  registerGradients();
  const epochs = wholeAtLeast("epochs", options.epochs ?? 5, 1);
  const batchSize = wholeAtLeast("batchSize", options.batchSize ?? 64, 1);
  const seed = options.seed ?? 0;
  const shuffle = options.shuffle ?? true;
  const verbose = options.verbose ?? 1;
  const output = options.output ??
    (verbose ? stdoutOutput() : { write() {}, isTTY: false });
  const augment = options.augment === true
    ? SEED_AUGMENTATION
    : options.augment
    ? augmentSettings(options.augment)
    : null;
  const shape = imageShape(model);
  const classes = classCount(model);

  let train = data;
  let validation = options.validationData ?? null;
  const split = options.validationSplit ?? 0;
  checkValidationSplit(split);
  if (validation === null && split > 0) {
    // Keras semantics: the last fraction, as views.
    ({ train, validation } = splitValidation(data, { validationSplit: split }));
  }
  checkImages(train, shape, classes, "training data");
  if (validation) checkImages(validation, shape, classes, "validation data");
  const early = options.earlyStopping
    ? new EarlyStopping(options.earlyStopping)
    : null;
  if (early?.monitor.startsWith("val_") && !validation) {
    throw new Error(
      `early stopping monitors ${early.monitor}, but there is no validation ` +
        `data; pass validationData or validationSplit, or monitor 'loss'`,
    );
  }
  if (options.resume && !options.checkpoint) {
    throw new Error("resume needs the checkpoint path to continue from");
  }

  const rng = new Rng(seed);
  const optimizer = new Adam(model.weights, {
    learningRate: options.learningRate,
  });
  const settings: Record<string, string | number | boolean | null> = {
    batchSize,
    shuffle,
    seed,
    learningRate: optimizer.learningRate,
    augment: augment ? JSON.stringify(augment) : false,
    trainCount: train.count,
    validationCount: validation?.count ?? 0,
    params: model.countParams(),
  };
  const checkpoint = options.checkpoint || null;
  let history = emptyHistory();
  let startEpoch = 0;
  let lastSaved: number | null = null;
  // Where the weights of epoch `lastSaved` are: the previous checkpoint
  // after a fallback, until the next save.
  let keptIn = checkpoint;
  // Whether the file at `checkpoint` is known good, so that the next save
  // may rotate it into the previous checkpoint (never a damaged one).
  let latestGood = false;
  try {
    if (checkpoint !== null) {
      await cleanCheckpointTemps(checkpoint);
      Object.assign(settings, await dataFingerprints(train, validation));
    }
    if (options.resume) {
      const warn = options.onWarning ??
        ((line: string) => console.warn(`warning: ${line}`));
      const found = await resumeCheckpoint(checkpoint!, warn);
      const { state } = found;
      const mismatch = settingsMismatch(state.settings, settings, found.path);
      if (mismatch) throw mismatch;
      restoreState(state, found.path, { model, optimizer, rng, early });
      history = state.history;
      startEpoch = state.epoch;
      lastSaved = state.epoch;
      latestGood = found.latest;
      keptIn = found.path;
      if (state.stoppedEarly) {
        if (verbose) {
          output.write(
            `Training had stopped early after epoch ${state.epoch}.\n`,
          );
        }
        return history;
      }
    } else if (checkpoint !== null) {
      // A new run supersedes an earlier run's checkpoints in this place.
      await removePrevious(checkpoint);
    }

    const n = train.count;
    const steps = Math.ceil(n / batchSize);
    for (let epoch = startEpoch; epoch < epochs; epoch++) {
      if (verbose) output.write(`Epoch ${epoch + 1}/${epochs}\n`);
      const bar = verbose ? new Progbar(steps, { verbose, output }) : null;
      const order = shuffle
        ? rng.permutation(n)
        : Uint32Array.from({ length: n }, (_, i) => i);
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      for (let s = 0; s < steps; s++) {
        const indices = order.subarray(
          s * batchSize,
          Math.min(n, (s + 1) * batchSize),
        );
        const step = await trainStep(
          model,
          optimizer,
          () => batchTensors(train, indices, classes),
          rng,
          augment,
        );
        if (!Number.isFinite(step.loss)) {
          if (bar && output.isTTY) output.write("\n");
          const kept = lastSaved === null || keptIn === null
            ? "no checkpoint had been written yet"
            : `the weights after epoch ${lastSaved} are kept in ${keptIn}`;
          throw new NonFiniteLossError(
            `loss became ${step.loss} at epoch ${epoch + 1}, step ${s + 1}; ` +
              `training stopped and ${kept}. Lower the learning rate ` +
              `(e.g. --lr ${
                Number((optimizer.learningRate / 10).toPrecision(2))
              }) ` +
              `and retrain`,
            epoch,
            s,
            lastSaved === null ? null : keptIn,
          );
        }
        lossSum += step.loss * indices.length;
        correct += step.correct;
        seen += indices.length;
        bar?.update(s + 1, [["loss", lossSum / seen], [
          "accuracy",
          correct / seen,
        ]]);
        await options.onBatchEnd?.(s, {
          loss: step.loss,
          accuracy: step.correct / indices.length,
        });
      }

      const logs: EpochLogs = {
        loss: lossSum / seen,
        accuracy: correct / seen,
      };
      if (validation) {
        const v = await evaluate(model, validation, batchSize);
        logs.val_loss = v.loss;
        logs.val_accuracy = v.accuracy;
      }
      history.loss.push(logs.loss);
      history.accuracy.push(logs.accuracy);
      if (validation) {
        history.val_loss.push(logs.val_loss!);
        history.val_accuracy.push(logs.val_accuracy!);
      }
      bar?.finish(Object.entries(logs) as Array<[string, number]>);
      const stop = early?.update(logs[early.monitor]!, epoch) ?? false;
      if (checkpoint !== null) {
        const state: TrainState = {
          epoch: epoch + 1,
          stoppedEarly: stop,
          rngState: rng.state,
          history,
          earlyStopping: early ? { ...early.state } : null,
          settings,
          weights: await model.getWeights(),
          optimizer: await optimizer.getState(),
        };
        await saveCheckpoint(checkpoint, state, {
          keepPrevious: latestGood,
        });
        lastSaved = epoch + 1;
        latestGood = true;
        keptIn = checkpoint;
      }
      await options.onEpochEnd?.(epoch, logs);
      if (stop) {
        if (verbose) output.write(`Epoch ${epoch + 1}: early stopping\n`);
        break;
      }
    }
    return history;
  } finally {
    optimizer.dispose();
  }
}
