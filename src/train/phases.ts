/**
 * The two phases of transfer learning in `fit`, as Keras' transfer-learning
 * guide runs them: first train with the frozen layers left as they are,
 * then unfreeze everything and fine-tune at a lower learning rate with a
 * fresh optimizer of the same kind and options (its state from phase 1 belong to other variables and
 * another rate). The checkpoint records the frozen set, where phase 2
 * starts and its rate among the settings a resume must match, and the
 * phase it was written in, so a resume lands in the right phase with the
 * right optimizer and ends bit-identical to an uninterrupted run.
 *
 * @module
 */

import type { Model } from "../nn/model.ts";
import { frozenLayerNames, unfreezeAll } from "../nn/transfer.ts";
import { CheckpointError } from "./checkpoint.ts";
import type { Optimizer } from "./optimizer.ts";
import { makeOptimizer, type OptimizerConfig } from "./optimizers.ts";
import type { FitSettings } from "./resume.ts";

/** The fine-tuning phase of `fit`. */
export interface FineTuneOptions {
  /** Epochs after the first phase's, with every layer trainable. */
  epochs: number;
  /**
   * The optimizer's constant learning rate in this phase, usually well
   * below the first's (the schedule and ReduceLROnPlateau drive phase 1 only).
   */
  learningRate: number;
}

/** The settings key of the phase a checkpoint was written in. */
const PHASE_KEY = "phase";

/**
 * Settings that make a run with frozen layers or a fine-tuning phase what
 * it is; empty for a plain run, so older checkpoints still resume.
 */
export function phaseSettings(
  model: Model,
  epochs: number,
  fineTune: FineTuneOptions | undefined,
): FitSettings {
  const settings: FitSettings = {};
  const frozen = frozenLayerNames(model);
  if (frozen.length > 0) settings.frozen = frozen.join(",");
  if (fineTune) {
    settings.fineTuneAfter = epochs;
    settings.fineTuneLearningRate = fineTune.learningRate;
  }
  return settings;
}

/**
 * The phase the last of `epochsDone` epochs was trained in: 2 once more
 * than the first phase's `epochs` are done. A checkpoint written at the
 * end of phase 1 is in phase 1 (it holds phase 1's optimizer state); the
 * fresh optimizer of phase 2 is made when its first epoch starts.
 */
export function phaseAt(
  epochsDone: number,
  epochs: number,
  fineTune: FineTuneOptions | undefined,
): 1 | 2 {
  return fineTune && epochsDone > epochs ? 2 : 1;
}

/** The settings to save with a checkpoint: `settings` plus the phase. */
export function withPhase(settings: FitSettings, phase: 1 | 2): FitSettings {
  // Only runs with a fine-tuning phase have phases to tell apart.
  return "fineTuneAfter" in settings
    ? { ...settings, [PHASE_KEY]: phase }
    : settings;
}

/**
 * Splits the phase off a checkpoint's settings and checks it is the one
 * its epoch count falls in; returns the settings to compare.
 */
export function savedPhase(
  saved: FitSettings,
  expected: 1 | 2,
  path: string,
): FitSettings {
  const { [PHASE_KEY]: phase, ...rest } = saved;
  if (phase !== undefined && phase !== expected) {
    throw new CheckpointError(
      `cannot resume from ${path}: it was written in phase ${phase} but ` +
        `its epoch count falls in phase ${expected}; rerun with the same --epochs and ` +
        `--fine-tune-epochs, or start a new run without --resume`,
      "mismatch",
      `phase ${phase} -> ${expected}`,
    );
  }
  return rest;
}

/**
 * Makes the model's trainable set that of `phase` (phase 2: every layer)
 * and returns a fresh optimizer of `config` over its trainable weights.
 */
export function phaseOptimizer(
  model: Model,
  phase: 1 | 2,
  config: OptimizerConfig,
): Optimizer {
  if (phase === 2) unfreezeAll(model);
  const weights = model.trainableWeights;
  if (weights.length === 0) {
    throw new Error(
      `every layer with weights is frozen (${
        frozenLayerNames(model).join(", ")
      }), so there is nothing to train; freeze fewer layers`,
    );
  }
  return makeOptimizer(weights, config);
}
