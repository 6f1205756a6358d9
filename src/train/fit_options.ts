/**
 * The options of `fit`, resolved and checked into a {@linkcode Plan}
 * before any epoch runs, and the settings a checkpoint records.
 *
 * @module
 */

import { checkValidationSplit, splitValidation } from "../data/dataset.ts";
import type { ImageSet } from "../data/image_set.ts";
import type { Model } from "../nn/model.ts";
import { Rng } from "../util/random.ts";
import {
  type AugmentOptions,
  augmentSettings,
  SEED_AUGMENTATION,
} from "./augment.ts";
import { checkImages } from "./batch.ts";
import type { BatchSource } from "./batch_source.ts";
import { EarlyStopping, type EarlyStoppingOptions } from "./early_stopping.ts";
import { classCount, imageShape } from "./evaluate.ts";
import type { Callback } from "./callback.ts";
import type { EpochContext, EpochLogs } from "./fit_epoch.ts";
import type { OptimizerConfig } from "./optimizers.ts";
import type { LearningRateSchedule } from "./schedules.ts";
import { type FineTuneOptions, phaseSettings } from "./phases.ts";
import { type ProgressOutput, stdoutOutput } from "./progress.ts";
import type { FitSettings } from "./resume.ts";

/** Options of {@linkcode fit}; the defaults are the seed notebook's. */
export interface FitOptions {
  /** Total epochs (a resumed run continues up to this). Default 5. */
  epochs?: number;
  /** Default 64. */
  batchSize?: number;
  /** Reshuffle the training set before each epoch. Default true. */
  shuffle?: boolean;
  /**
   * The optimizer's initial learning rate when `optimizer` names none.
   * Default 0.001 (Adam's).
   */
  learningRate?: number;
  /**
   * The optimizer and its options, e.g. `{ kind: "sgd", momentum: 0.9,
   * nesterov: true, weightDecay: 5e-4 }`. Default Adam with Keras'
   * defaults at `learningRate`.
   */
  optimizer?: OptimizerConfig;
  /**
   * The learning rate of each step (Keras' `LearningRateSchedule`, called
   * with the number of steps done); replaces the optimizer's constant rate
   * in the first phase.
   */
  schedule?: LearningRateSchedule;
  /**
   * Keras-style callbacks run at each epoch end, e.g. `ReduceLROnPlateau`
   * and `ModelCheckpoint` (at most one of each); their state is checkpointed.
   */
  callbacks?: readonly Callback[];
  /** Keras' label smoothing of the cross-entropy targets, in [0, 1). Default 0. */
  labelSmoothing?: number;
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
   * history) at `fineTune.learningRate` with a fresh optimizer of the
   * same kind (constant rate: the schedule and callbacks drive phase 1).
   * Layers frozen with `freezeLayers` stay frozen in the first phase; the
   * model ends with every layer trainable.
   */
  fineTune?: FineTuneOptions;
  /**
   * More settings a resume must match, recorded in the checkpoint (the
   * train CLI records its `--from` model here).
   */
  settings?: FitSettings;
  /**
   * Where each training batch's float images come from instead of
   * `byte / 255` (e.g. the fast recipe's flip and translation straight
   * from the uint8 images); cannot be combined with `augment`.
   */
  batches?: BatchSource;
  /** Skip each epoch's last partial batch (tf.data's `drop_remainder`). Default false. */
  dropRemainder?: boolean;
  /**
   * Stop after this many optimizer steps, within the last epoch (e.g. 9.9
   * epochs: pass `epochs: 10` and the steps of 9.9); the schedule and the
   * lookahead run to it. Default: no limit. Not with `fineTune`.
   */
  totalSteps?: number;
  /**
   * Lookahead (an exponential moving average of every weight, moving
   * statistics included) after each optimizer step, see
   * lookahead.ts: every `every` steps (default 5) with decay
   * `base * (step / totalSteps)^3` (default `0.95^5`); the model ends on
   * the slow weights. Its state is checkpointed.
   */
  lookahead?: LookaheadSettings;
}

/** Options of {@linkcode FitOptions.lookahead}. */
export interface LookaheadSettings {
  /** Steps between two updates; default 5. */
  every?: number;
  /** Decay at the last step; default `0.95^5`, airbench's. */
  base?: number;
}

function wholeAtLeast(name: string, v: number, min: number): number {
  if (!Number.isInteger(v) || v < min) {
    throw new RangeError(`${name} must be a whole number >= ${min}, got ${v}`);
  }
  return v;
}

/** The options resolved and checked, and the data split. */
export interface Plan {
  epochs: number;
  total: number;
  /** Optimizer steps of the run: `totalSteps`, or every epoch's steps. */
  steps: number;
  /** Whether `totalSteps` limits the run. */
  limited: boolean;
  lookahead: Required<LookaheadSettings> | null;
  train: ImageSet;
  validation: ImageSet | null;
  early: EarlyStopping | null;
  /** The optimizer of the first phase, as a config. */
  optimizer: OptimizerConfig;
  schedule: LearningRateSchedule | null;
  callbacks: readonly Callback[];
  context: Omit<
    EpochContext,
    "optimizer" | "kept" | "beforeStep" | "afterStep" | "stepsLeft"
  >;
}

/** Checks the callbacks: one of each kind, monitoring metrics the run has. */
function checkCallbacks(
  callbacks: readonly Callback[],
  hasValidation: boolean,
): void {
  const seen = new Set<string>();
  for (const cb of callbacks) {
    if (seen.has(cb.className)) {
      throw new Error(
        `two ${cb.className} callbacks; pass at most one of each kind`,
      );
    }
    seen.add(cb.className);
    if (cb.monitor.startsWith("val_") && !hasValidation) {
      throw new Error(
        `${cb.className} monitors ${cb.monitor}, but there is no validation ` +
          `data; pass validationData or validationSplit, or monitor 'loss'`,
      );
    }
  }
}

/** The training and validation images: `validationData`, or Keras' split. */
function splitData(
  model: Model,
  data: ImageSet,
  options: FitOptions,
): { train: ImageSet; validation: ImageSet | null; classes: number } {
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
  return { train, validation, classes };
}

/** Optimizer steps per epoch and in the run, checked against `totalSteps`. */
function stepCount(
  options: FitOptions,
  trainCount: number,
  batchSize: number,
  epochs: number,
): { steps: number; limited: boolean } {
  const perEpoch = options.dropRemainder
    ? Math.floor(trainCount / batchSize)
    : Math.ceil(trainCount / batchSize);
  if (perEpoch < 1) {
    throw new RangeError(
      `dropRemainder leaves no batch: ${trainCount} training images for ` +
        `batch size ${batchSize}; lower the batch size`,
    );
  }
  const limited = options.totalSteps !== undefined;
  const steps = limited
    ? wholeAtLeast("totalSteps", options.totalSteps!, 1)
    : perEpoch * epochs;
  if ((limited || options.lookahead) && options.fineTune) {
    throw new Error(
      "totalSteps and lookahead cannot be combined with fineTune; train " +
        "the second phase in a second fit",
    );
  }
  if (steps > perEpoch * epochs) {
    throw new RangeError(
      `totalSteps ${steps} is more than ${epochs} epochs of ${perEpoch} ` +
        `steps; raise epochs to ${Math.ceil(steps / perEpoch)}`,
    );
  }
  return { steps, limited };
}

function lookaheadSettings(
  options: FitOptions,
): Required<LookaheadSettings> | null {
  if (!options.lookahead) return null;
  const every = wholeAtLeast(
    "lookahead.every",
    options.lookahead.every ?? 5,
    1,
  );
  const base = options.lookahead.base ?? 0.95 ** 5;
  if (!(base >= 0 && base <= 1)) {
    throw new RangeError(`lookahead.base must be in [0, 1], got ${base}`);
  }
  return { every, base };
}

/** Checks the options that need no data: label smoothing, resume, batches. */
function checkTrainingOptions(options: FitOptions): void {
  const labelSmoothing = options.labelSmoothing ?? 0;
  if (!(labelSmoothing >= 0 && labelSmoothing < 1)) {
    throw new RangeError(
      `labelSmoothing must be in [0, 1), got ${options.labelSmoothing}`,
    );
  }
  if (options.resume && !options.checkpoint) {
    throw new Error("resume needs the checkpoint path to continue from");
  }
  if (options.batches && options.augment) {
    throw new Error(
      "pass either augment or batches (a batch source does its own " +
        "augmentation), not both",
    );
  }
}

/** Resolves and checks `fit`'s options for `model` and `data`. */
export function plan(
  model: Model,
  data: ImageSet,
  options: FitOptions,
): Plan {
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
  const { train, validation, classes } = splitData(model, data, options);
  const early = options.earlyStopping
    ? new EarlyStopping(options.earlyStopping)
    : null;
  if (early?.monitor.startsWith("val_") && !validation) {
    throw new Error(
      `early stopping monitors ${early.monitor}, but there is no validation ` +
        `data; pass validationData or validationSplit, or monitor 'loss'`,
    );
  }
  const callbacks = options.callbacks ?? [];
  checkCallbacks(callbacks, validation !== null);
  checkTrainingOptions(options);
  const total = epochs + (fineTune?.epochs ?? 0);
  const { steps, limited } = stepCount(options, train.count, batchSize, epochs);
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
    labelSmoothing: options.labelSmoothing ?? 0,
    batches: options.batches ?? null,
    dropRemainder: options.dropRemainder ?? false,
  };
  const optimizer: OptimizerConfig = options.optimizer ?? { kind: "adam" };
  return {
    epochs,
    total,
    steps,
    limited,
    lookahead: lookaheadSettings(options),
    train,
    validation,
    early,
    optimizer: {
      ...optimizer,
      learningRate: optimizer.learningRate ?? options.learningRate,
    },
    schedule: options.schedule ?? null,
    callbacks,
    context,
  };
}

/** The settings a checkpoint records and a resume must match. */
export function runSettings(
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
    ...trainingSettings(p),
    ...phaseSettings(c.model, p.epochs, options.fineTune),
    ...options.settings,
  };
}

/**
 * The optimizer, schedule, callbacks and label smoothing as settings a
 * resume must match; empty for the seed recipe's defaults (Adam, no
 * schedule, no callbacks, no smoothing), so its settings are unchanged.
 */
function trainingSettings(p: Plan): FitSettings {
  const settings: FitSettings = {};
  const { kind, learningRate: _, ...rest } = p.optimizer;
  if (kind !== "adam" || Object.values(rest).some((v) => v !== undefined)) {
    settings.optimizer = JSON.stringify(p.optimizer);
  }
  if (p.schedule) {
    settings.schedule = JSON.stringify({
      class_name: p.schedule.className,
      config: p.schedule.getConfig(),
    });
  }
  if (p.callbacks.length > 0) {
    settings.callbacks = JSON.stringify(
      p.callbacks.map((c) => ({
        class_name: c.className,
        config: c.getConfig(),
      })),
    );
  }
  if (p.context.labelSmoothing > 0) {
    settings.labelSmoothing = p.context.labelSmoothing;
  }
  // The recipe options, only when set (other runs' settings unchanged).
  if (p.context.batches) settings.batches = p.context.batches.description;
  if (p.context.dropRemainder) settings.dropRemainder = true;
  if (p.limited) settings.totalSteps = p.steps;
  if (p.lookahead) settings.lookahead = JSON.stringify(p.lookahead);
  return settings;
}
