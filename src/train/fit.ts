/**
 * `fit`: Keras-style training of a {@linkcode Sequential} classifier with
 * Adam, categorical cross-entropy, optional augmentation, validation,
 * early stopping and resumable checkpoints.
 *
 * Transfer learning: layers frozen with `freezeLayers` are not updated,
 * and `fineTune` adds Keras' second phase (phases.ts).
 *
 * Reproducibility: everything random (shuffle order, augmentation, dropout
 * masks) is drawn, in a fixed order, from one {@linkcode Rng} whose
 * state is saved at each epoch end, so a run resumed from a checkpoint ends
 * with the same weights as an uninterrupted run on the same backend.
 *
 * @module
 */

import { checkValidationSplit, splitValidation } from "../data/dataset.ts";
import type { ImageSet } from "../data/image_set.ts";
import type { Sequential } from "../nn/sequential.ts";
import { registerGradients } from "../runtime/gradients.ts";
import { Adam } from "./adam.ts";
import {
  type AugmentOptions,
  augmentSettings,
  SEED_AUGMENTATION,
} from "./augment.ts";
import { checkImages } from "./batch.ts";
import {
  cleanCheckpointTemps,
  type History,
  removePrevious,
  resumeCheckpoint,
  saveCheckpoint,
  type TrainState,
} from "./checkpoint.ts";
import { EarlyStopping, type EarlyStoppingOptions } from "./early_stopping.ts";
import { classCount, imageShape } from "./evaluate.ts";
import { dataFingerprints } from "./fingerprint.ts";
import { type EpochContext, type EpochLogs, runEpoch } from "./fit_epoch.ts";
import {
  type FineTuneOptions,
  phaseAt,
  phaseOptimizer,
  phaseSettings,
  savedPhase,
  withPhase,
} from "./phases.ts";
import { type ProgressOutput, stdoutOutput } from "./progress.ts";
import { type FitSettings, restoreState, settingsMismatch } from "./resume.ts";
import { Rng } from "../util/random.ts";

export { type EpochLogs, NonFiniteLossError } from "./fit_epoch.ts";
export type { FineTuneOptions } from "./phases.ts";

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
  /**
   * A second phase after `epochs`: every layer is made trainable and
   * training continues for `fineTune.epochs` more epochs (numbered on, one
   * history) at `fineTune.learningRate` with a fresh Adam. Layers frozen
   * with `freezeLayers` stay frozen in the first phase; the model ends with
   * every layer trainable.
   */
  fineTune?: FineTuneOptions;
  /**
   * More settings a resume must match, recorded in the checkpoint (the
   * train CLI records its `--from` model here).
   */
  settings?: FitSettings;
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

/** The options resolved and checked, and the data split. */
interface Plan {
  epochs: number;
  total: number;
  train: ImageSet;
  validation: ImageSet | null;
  early: EarlyStopping | null;
  context: Omit<EpochContext, "optimizer" | "kept">;
}

function plan(model: Sequential, data: ImageSet, options: FitOptions): Plan {
  const epochs = wholeAtLeast("epochs", options.epochs ?? 5, 1);
  const fineTune = options.fineTune;
  if (fineTune) wholeAtLeast("fineTune.epochs", fineTune.epochs, 1);
  const batchSize = wholeAtLeast("batchSize", options.batchSize ?? 64, 1);
  const verbose = options.verbose ?? 1;
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
  const total = epochs + (fineTune?.epochs ?? 0);
  const context = {
    model,
    rng: new Rng(options.seed ?? 0),
    train,
    validation,
    classes,
    batchSize,
    shuffle: options.shuffle ?? true,
    augment,
    verbose,
    output: options.output ??
      (verbose ? stdoutOutput() : { write() {}, isTTY: false }),
    epochs: total,
    onBatchEnd: options.onBatchEnd,
  };
  return { epochs, total, train, validation, early, context };
}

/** The settings a checkpoint records and a resume must match. */
function runSettings(
  p: Plan,
  options: FitOptions,
  learningRate: number,
): FitSettings {
  const { context: c } = p;
  return {
    batchSize: c.batchSize,
    shuffle: c.shuffle,
    seed: options.seed ?? 0,
    learningRate,
    augment: c.augment ? JSON.stringify(c.augment) : false,
    trainCount: p.train.count,
    validationCount: p.validation?.count ?? 0,
    params: c.model.countParams(),
    ...phaseSettings(c.model, p.epochs, options.fineTune),
    ...options.settings,
  };
}

/**
 * Trains `model` on `data` (uint8 HWC images, converted per batch) and
 * returns Keras' `history.history`. Progress is printed like Keras'.
 * Throws {@linkcode NonFiniteLossError} if the loss becomes NaN or infinite.
 *
 * @example Transfer learning: frozen conv blocks, then fine-tuning
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { cifarCnn } from "../nn/cifar_cnn.ts";
 * import { freezeLayers, replaceHead } from "../nn/transfer.ts";
 * import { fit } from "./fit.ts";
 *
 * await tf.setBackend("cpu");
 * const model = cifarCnn({ seed: 1, inputShape: [8, 8, 3] }); // or loadModel(dir)
 * replaceHead(model, 3, { seed: 2 });
 * freezeLayers(model, "conv2d_3");
 * const data = {
 *   images: new Uint8Array(12 * 8 * 8 * 3).map((_, i) => (i * 7) % 256),
 *   labels: Uint8Array.from({ length: 12 }, (_, i) => i % 3),
 *   count: 12,
 *   shape: [8, 8, 3] as const,
 * };
 * const history = await fit(model, data, {
 *   epochs: 2, // phase 1: conv blocks frozen, Adam 1e-3
 *   fineTune: { epochs: 1, learningRate: 1e-4 }, // phase 2: all layers, fresh Adam
 *   batchSize: 4,
 *   verbose: 0,
 * });
 * console.log(history.loss.length); // 3
 * model.dispose();
 * ```
 */
export async function fit(
  model: Sequential,
  data: ImageSet,
  options: FitOptions = {},
): Promise<History> {
  registerGradients();
  const p = plan(model, data, options);
  const { epochs, total, early, context: c } = p;
  const fineTune = options.fineTune;
  let optimizer = phaseOptimizer(model, 1, options.learningRate);
  // Checks the second phase's rate before any epoch is spent.
  if (fineTune) new Adam([], { learningRate: fineTune.learningRate });
  const settings = runSettings(p, options, optimizer.learningRate);
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
  const kept = () => ({
    text: lastSaved === null || keptIn === null
      ? "no checkpoint had been written yet"
      : `the weights after epoch ${lastSaved} are kept in ${keptIn}`,
    checkpoint: lastSaved === null ? null : keptIn,
  });
  try {
    if (checkpoint !== null) {
      await cleanCheckpointTemps(checkpoint);
      Object.assign(settings, await dataFingerprints(p.train, p.validation));
    }
    if (options.resume) {
      const warn = options.onWarning ??
        ((line: string) => console.warn(`warning: ${line}`));
      const found = await resumeCheckpoint(checkpoint!, warn);
      const { state } = found;
      const phase = phaseAt(state.epoch, epochs, fineTune);
      const saved = savedPhase(state.settings, phase, found.path);
      const mismatch = settingsMismatch(saved, settings, found.path);
      if (mismatch) throw mismatch;
      if (phase === 2) {
        optimizer.dispose();
        optimizer = phaseOptimizer(model, 2, fineTune!.learningRate);
      }
      restoreState(state, found.path, { model, optimizer, rng: c.rng, early });
      history = state.history;
      startEpoch = state.epoch;
      lastSaved = state.epoch;
      latestGood = found.latest;
      keptIn = found.path;
      if (state.stoppedEarly) {
        if (c.verbose) {
          c.output.write(
            `Training had stopped early after epoch ${state.epoch}.\n`,
          );
        }
        return history;
      }
    } else if (checkpoint !== null) {
      // A new run supersedes an earlier run's checkpoints in this place.
      await removePrevious(checkpoint);
    }

    for (let epoch = startEpoch; epoch < total; epoch++) {
      if (fineTune && epoch === epochs) {
        // Keras' guide: unfreeze, recompile with a low rate (new state).
        optimizer.dispose();
        optimizer = phaseOptimizer(model, 2, fineTune.learningRate);
        if (c.verbose) {
          c.output.write(
            `Fine-tuning every layer at learning rate ${fineTune.learningRate}\n`,
          );
        }
      }
      const logs = await runEpoch({ ...c, optimizer, kept }, epoch);
      history.loss.push(logs.loss);
      history.accuracy.push(logs.accuracy);
      if (p.validation) {
        history.val_loss.push(logs.val_loss!);
        history.val_accuracy.push(logs.val_accuracy!);
      }
      const stop = early?.update(logs[early.monitor]!, epoch) ?? false;
      if (checkpoint !== null) {
        const state: TrainState = {
          epoch: epoch + 1,
          stoppedEarly: stop,
          rngState: c.rng.state,
          history,
          earlyStopping: early ? { ...early.state } : null,
          settings: withPhase(settings, phaseAt(epoch + 1, epochs, fineTune)),
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
        if (c.verbose) c.output.write(`Epoch ${epoch + 1}: early stopping\n`);
        break;
      }
    }
    return history;
  } finally {
    optimizer.dispose();
  }
}
