/**
 * `fit`: Keras-style training of a {@linkcode Model} classifier with
 * an optimizer (Adam by default; SGD, AdamW, RMSprop), a learning-rate
 * schedule, categorical cross-entropy (label smoothing, the layers'
 * regularization losses), optional augmentation, validation, early
 * stopping, callbacks (ReduceLROnPlateau, ModelCheckpoint) and resumable
 * checkpoints.
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

import type { ImageSet } from "../data/image_set.ts";
import type { Model } from "../nn/model.ts";
import { registerGradients } from "../runtime/gradients.ts";
import {
  cleanCheckpointTemps,
  type History,
  removePrevious,
  resumeCheckpoint,
  saveCheckpoint,
  type TrainState,
} from "./checkpoint.ts";
import { dataFingerprints } from "./fingerprint.ts";
import { type EpochLogs, runEpoch } from "./fit_epoch.ts";
import {
  type FitOptions,
  type Plan,
  plan,
  runSettings,
} from "./fit_options.ts";
import type { Optimizer } from "./optimizer.ts";
import { makeOptimizer } from "./optimizers.ts";
import { Lookahead } from "./lookahead.ts";
import { lookaheadStep, lookaheadWeights } from "./fit_lookahead.ts";
import {
  type FineTuneOptions,
  phaseAt,
  phaseOptimizer,
  savedPhase,
  withPhase,
} from "./phases.ts";
import {
  type FitSettings,
  otherOptimizer,
  restoreState,
  settingsMismatch,
} from "./resume.ts";

export { type EpochLogs, NonFiniteLossError } from "./fit_epoch.ts";
export type { FineTuneOptions } from "./phases.ts";
export type { FitOptions } from "./fit_options.ts";

function emptyHistory(): Required<History> {
  return {
    loss: [],
    accuracy: [],
    val_loss: [],
    val_accuracy: [],
    learning_rate: [],
  };
}

/**
 * Trains `model` on `data` (uint8 HWC images, converted per batch) and
 * returns Keras' `history.history` (with the learning rate of each epoch,
 * as Keras 3 logs it). Progress is printed like Keras'.
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
 *
 * @example SGD with Nesterov momentum, a cosine schedule, label smoothing
 * and ReduceLROnPlateau
 * ```ts
 * import * as tf from "@tensorflow/tfjs-core";
 * import "@tensorflow/tfjs-backend-cpu";
 * import { cifarCnn } from "../nn/cifar_cnn.ts";
 * import { fit } from "./fit.ts";
 * import { ReduceLROnPlateau } from "./reduce_lr_on_plateau.ts";
 * import { CosineDecay } from "./schedules.ts";
 *
 * await tf.setBackend("cpu");
 * const model = cifarCnn({ seed: 1, inputShape: [8, 8, 3], classes: 3 });
 * const data = {
 *   images: new Uint8Array(12 * 8 * 8 * 3).map((_, i) => (i * 7) % 256),
 *   labels: Uint8Array.from({ length: 12 }, (_, i) => i % 3),
 *   count: 12,
 *   shape: [8, 8, 3] as const,
 * };
 * const history = await fit(model, data, {
 *   epochs: 2,
 *   batchSize: 4,
 *   optimizer: { kind: "sgd", momentum: 0.9, nesterov: true, weightDecay: 5e-4 },
 *   schedule: new CosineDecay({ initialLearningRate: 0.05, decaySteps: 6 }),
 *   labelSmoothing: 0.1,
 *   callbacks: [new ReduceLROnPlateau({ monitor: "loss", patience: 1 })],
 *   verbose: 0,
 * });
 * console.log(history.learning_rate.length); // 2
 * model.dispose();
 * ```
 */
export async function fit(
  model: Model,
  data: ImageSet,
  options: FitOptions = {},
): Promise<Required<History>> {
  registerGradients();
  const p = plan(model, data, options);
  const { epochs, total, context: c } = p;
  const fineTune = options.fineTune;
  const optimizer = phaseOptimizer(model, 1, p.optimizer);
  // Checks the second phase's rate before any epoch is spent.
  if (fineTune) {
    makeOptimizer([], { ...p.optimizer, learningRate: fineTune.learningRate });
  }
  const checkpoint = options.checkpoint || null;
  const run: Run = {
    settings: runSettings(p, options, optimizer.learningRate),
    checkpoint,
    optimizer,
    history: emptyHistory(),
    startEpoch: 0,
    lastSaved: null,
    keptIn: checkpoint,
    latestGood: false,
    step: 0,
    phase2: false,
    lookahead: p.lookahead
      ? new Lookahead(model.weights.map((w) => w.variable), p.lookahead)
      : null,
  };
  const beforeStep = stepRate(p, run, optimizer.learningRate);
  const afterStep = () => lookaheadStep(p.lookahead, p.steps, run);
  const stepsLeft = () => p.limited ? p.steps - run.step : Infinity;
  const kept = () => ({
    text: run.lastSaved === null || run.keptIn === null
      ? "no checkpoint had been written yet"
      : `the weights after epoch ${run.lastSaved} are kept in ${run.keptIn}`,
    checkpoint: run.lastSaved === null ? null : run.keptIn,
  });
  try {
    if (checkpoint !== null) {
      await cleanCheckpointTemps(checkpoint);
      Object.assign(
        run.settings,
        await dataFingerprints(p.train, p.validation),
      );
    }
    if (options.resume) {
      if (await resumeRun(p, options, run)) return run.history;
    } else if (checkpoint !== null) {
      // A new run supersedes an earlier run's checkpoints in this place.
      await removePrevious(checkpoint);
    }
    for (let epoch = run.startEpoch; epoch < total; epoch++) {
      if (stepsLeft() <= 0) break;
      if (fineTune && epoch === epochs) {
        // Keras' guide: unfreeze, recompile with a low rate (new state).
        enterPhase2(p, fineTune, run);
        if (c.verbose) {
          c.output.write(
            `Fine-tuning every layer at learning rate ${fineTune.learningRate}\n`,
          );
        }
      }
      const logs = await runEpoch(
        {
          ...c,
          optimizer: run.optimizer,
          kept,
          beforeStep,
          afterStep,
          stepsLeft,
        },
        epoch,
      );
      if (await endEpoch(p, options, run, epoch, logs)) {
        if (c.verbose) c.output.write(`Epoch ${epoch + 1}: early stopping\n`);
        break;
      }
    }
    return run.history;
  } finally {
    run.optimizer.dispose();
    run.lookahead?.dispose();
  }
}

/** What `fit` carries from epoch to epoch. */
interface Run {
  settings: FitSettings;
  checkpoint: string | null;
  optimizer: Optimizer;
  /** Keras' `history.history`, the learning rate of each epoch included. */
  history: Required<History>;
  /** Training steps done in phase 1: the schedule's position. */
  step: number;
  /** Whether phase 2 (constant fine-tuning rate) has begun. */
  phase2: boolean;
  /** The slow weights, with the `lookahead` option. */
  lookahead: Lookahead | null;
  startEpoch: number;
  /** The last epoch whose checkpoint was written or resumed from. */
  lastSaved: number | null;
  /**
   * Where the weights of epoch `lastSaved` are: the previous checkpoint
   * after a fallback, until the next save.
   */
  keptIn: string | null;
  /**
   * Whether the file at `checkpoint` is known good, so that the next save
   * may rotate it into the previous checkpoint (never a damaged one).
   */
  latestGood: boolean;
}

/**
 * What runs before each step: phase 1's rate is the schedule's at the step
 * (or the constant `baseRate`), then the callbacks' say (ReduceLROnPlateau);
 * phase 2 keeps its constant fine-tuning rate.
 */
function stepRate(p: Plan, run: Run, baseRate: number): () => void {
  return () => {
    if (run.phase2) return;
    let lr = p.schedule ? p.schedule.at(run.step) : baseRate;
    for (const cb of p.callbacks) lr = cb.adjustLearningRate?.(lr) ?? lr;
    run.optimizer.learningRate = lr;
    run.step++;
  };
}

/** Unfreezes every layer and gives `run` phase 2's fresh optimizer. */
function enterPhase2(p: Plan, fineTune: FineTuneOptions, run: Run): void {
  run.optimizer.dispose();
  run.phase2 = true;
  run.optimizer = phaseOptimizer(p.context.model, 2, {
    ...p.optimizer,
    learningRate: fineTune.learningRate,
  });
}

/**
 * Restores `run` from its checkpoint, in the phase the checkpoint was
 * written in. Returns true when that run had stopped early (nothing more
 * to train).
 */
async function resumeRun(
  p: Plan,
  options: FitOptions,
  run: Run,
): Promise<boolean> {
  const { context: c, early } = p;
  const warn = options.onWarning ??
    ((line: string) => console.warn(`warning: ${line}`));
  const found = await resumeCheckpoint(run.checkpoint!, warn);
  const { state } = found;
  const phase = phaseAt(state.epoch, p.epochs, options.fineTune);
  const saved = savedPhase(state.settings, phase, found.path);
  if (phase === 2) enterPhase2(p, options.fineTune!, run);
  const kind = otherOptimizer(state, run.optimizer, found.path);
  if (kind) throw kind;
  const mismatch = settingsMismatch(saved, run.settings, found.path);
  if (mismatch) throw mismatch;
  restoreState(state, found.path, {
    model: c.model,
    optimizer: run.optimizer,
    rng: c.rng,
    early,
    callbacks: p.callbacks,
    lookahead: run.lookahead,
  });
  run.step = state.step;
  // The decoder checked that a checkpoint's history has every key.
  run.history = state.history as Required<History>;
  run.startEpoch = state.epoch;
  run.lastSaved = state.epoch;
  run.latestGood = found.latest;
  run.keptIn = found.path;
  if (state.stoppedEarly && c.verbose) {
    c.output.write(`Training had stopped early after epoch ${state.epoch}.\n`);
  }
  return state.stoppedEarly;
}

/**
 * Records an epoch's logs, writes its checkpoint and calls `onEpochEnd`.
 * Returns true when early stopping ends the run.
 */
async function endEpoch(
  p: Plan,
  options: FitOptions,
  run: Run,
  epoch: number,
  logs: EpochLogs,
): Promise<boolean> {
  const { early, context: c } = p;
  const history = run.history;
  history.loss.push(logs.loss);
  history.accuracy.push(logs.accuracy);
  if (p.validation) {
    history.val_loss.push(logs.val_loss!);
    history.val_accuracy.push(logs.val_accuracy!);
  }
  history.learning_rate.push(logs.learning_rate!);
  const stop = early?.update(logs[early.monitor]!, epoch) ?? false;
  // A run that stops early ends on the slow weights too.
  if (stop) run.lookahead?.finish();
  // Phase 1's callbacks (the learning rate is phase 1's to adjust).
  if (phaseAt(epoch + 1, p.epochs, options.fineTune) === 1) {
    const print = c.verbose
      ? (line: string) => c.output.write(`${line}\n`)
      : null;
    for (const cb of p.callbacks) {
      await cb.onEpochEnd(epoch, { ...logs }, {
        model: c.model,
        learningRate: run.optimizer.learningRate,
        print,
      });
    }
  }
  if (run.checkpoint !== null) {
    const phase = phaseAt(epoch + 1, p.epochs, options.fineTune);
    const state: TrainState = {
      epoch: epoch + 1,
      stoppedEarly: stop,
      rngState: c.rng.state,
      history,
      earlyStopping: early ? { ...early.state } : null,
      settings: withPhase(run.settings, phase),
      weights: await c.model.getWeights(),
      optimizer: await run.optimizer.getState(),
      step: run.step,
      callbacks: Object.fromEntries(
        p.callbacks.map((cb) => [cb.className, cb.getState()]),
      ),
      lookahead: run.lookahead
        ? {
          every: run.lookahead.every,
          slow: await lookaheadWeights(c.model, run.lookahead),
        }
        : null,
    };
    await saveCheckpoint(run.checkpoint, state, {
      keepPrevious: run.latestGood,
    });
    run.lastSaved = epoch + 1;
    run.latestGood = true;
    run.keptIn = run.checkpoint;
  }
  await options.onEpochEnd?.(epoch, logs);
  return stop;
}
