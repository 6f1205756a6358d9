/**
 * Training as Keras does it for the seed notebook: `fit` (Adam by default;
 * SGD, AdamW, RMSprop with weight decay and parameter groups; schedules;
 * ReduceLROnPlateau and ModelCheckpoint; label smoothing; cross-entropy, optional augmentation, validation, early stopping, Keras'
 * progress bar, atomic checkpoints that resume bit for bit), `evaluate` and
 * `predictImages` (with test-time augmentation: `tta`), on uint8 image sets
 * converted one batch at a time.
 *
 * ```ts
 * import { initRuntime } from "@simdnet/simdnet/runtime";
 * import { cifarCnn } from "@simdnet/simdnet/nn";
 * import { evaluate, fit, predictImages } from "@simdnet/simdnet/train";
 *
 * await initRuntime({ backend: "cpu" });
 * const model = cifarCnn({ seed: 1, inputShape: [8, 8, 3], classes: 2 });
 * const count = 16;
 * const data = {
 *   images: new Uint8Array(count * 8 * 8 * 3).map((_, i) => (i * 7) % 256),
 *   labels: Uint8Array.from({ length: count }, (_, i) => i % 2),
 *   count,
 *   shape: [8, 8, 3] as const,
 * };
 * const history = await fit(model, data, {
 *   epochs: 2,
 *   batchSize: 8,
 *   verbose: 0,
 *   earlyStopping: { monitor: "loss", patience: 1 },
 * });
 * console.log(history.loss.length); // 2 (1 if early stopping fired)
 * const { loss, accuracy } = await evaluate(model, data);
 * console.log(loss > 0, accuracy >= 0); // true true
 * console.log((await predictImages(model, data)).length); // 32: 16 rows of 2 probabilities
 * ```
 *
 * @module
 */

export {
  type EpochLogs,
  type FineTuneOptions,
  fit,
  type FitOptions,
  NonFiniteLossError,
} from "./fit.ts";
export {
  evaluate,
  type EvaluateOptions,
  type Evaluation,
  predictImages,
} from "./evaluate.ts";
export {
  describeTta,
  resolveTta,
  type TtaOptions,
  ttaProbabilities,
  type TtaSetting,
  type TtaView,
  ttaView,
  ttaViews,
} from "./tta.ts";
export {
  Adam,
  ADAM_DEFAULTS,
  type AdamOptions,
  type AdamState,
  adamUpdate,
  AdamW,
  ADAMW_WEIGHT_DECAY,
} from "./adam.ts";
export {
  type BaseOptions,
  type ConfigValue,
  type Optimizer,
  type OptimizerKind,
  type OptimizerState,
  type ParamGroup,
  SlotOptimizer,
} from "./optimizer.ts";
export { SGD, SGD_DEFAULTS, type SgdOptions } from "./sgd.ts";
export { RMSprop, RMSPROP_DEFAULTS, type RmspropOptions } from "./rmsprop.ts";
export {
  makeOptimizer,
  OPTIMIZER_KINDS,
  type OptimizerConfig,
} from "./optimizers.ts";
export {
  CosineDecay,
  type CosineDecayOptions,
  ExponentialDecay,
  type LearningRateSchedule,
  PiecewiseConstantDecay,
  type TriangularOptions,
  TriangularSchedule,
} from "./schedules.ts";
export {
  type Callback,
  type CallbackContext,
  type CallbackState,
  type Monitor,
} from "./callback.ts";
export {
  ReduceLROnPlateau,
  type ReduceLROnPlateauOptions,
} from "./reduce_lr_on_plateau.ts";
export {
  ModelCheckpoint,
  type ModelCheckpointOptions,
} from "./model_checkpoint.ts";
export {
  correctCount,
  regularizationLoss,
  smoothLabels,
  softmaxCrossEntropy,
} from "./loss.ts";
export {
  augmentBatch,
  type AugmentOptions,
  SEED_AUGMENTATION,
  transformMatrix,
  type UniformSource,
} from "./augment.ts";
export {
  CheckpointError,
  type CheckpointProblem,
  type EarlyStoppingState,
  type History,
  loadCheckpoint,
  previousPath,
  saveCheckpoint,
  type TrainState,
} from "./checkpoint.ts";
export { EarlyStopping, type EarlyStoppingOptions } from "./early_stopping.ts";
export { type ProgressOutput, stdoutOutput } from "./progress.ts";
export {
  augmentationSource,
  type FastRecipe,
  fastRecipe,
  type FastRecipeOptions,
  recipeFitOptions,
  recipes,
} from "./recipes.ts";
export type { BatchSource } from "./batch_source.ts";
export type { LookaheadSettings } from "./fit_options.ts";
