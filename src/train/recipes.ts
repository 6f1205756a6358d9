/**
 * Training recipes as data: `recipes.fast(train, options)` returns the fast
 * recipe's parts (after Keller Jordan's airbench94) — the model, the optimizer
 * config, the schedule, the augmentation, the lookahead and the TTA
 * setting — each a plain value a user may replace before
 * {@linkcode recipeFitOptions} turns them into `fit`'s options.
 *
 * The update follows the PyTorch replica (bench/pytorch_fast.py) as far as
 * simdnet's SGD allows. Same: the step on the batch-mean loss (learning
 * rate times batch size of the replica's per-image rate on a summed loss),
 * Nesterov momentum 0.85, the BatchNorm offsets at 64x the rate, the
 * triangular schedule, label smoothing 0.2, lookahead, 9.9 epochs with
 * the last partial batch of each epoch dropped. Different, and why:
 * simdnet's SGD is Keras' (the velocity keeps the rates it was built
 * with, where PyTorch rescales the whole velocity with the current rate:
 * the two agree at a constant rate, and under the triangular schedule,
 * which moves the rate by at most 0.8 / warmup-steps of the peak per step,
 * the second step differs by `momentum^2 (lr2 - lr1) g1`). Its weight
 * decay is Keras 3's decoupled one, so the replica's L2 decay through the
 * momentum becomes the per-step shrink that decay settles to
 * (`decoupledDecayPerStep`, exact at schedule factor 1): the replica's
 * shrink builds up over its first ~1 / (1 - momentum) = 7 steps, ours
 * starts at the settled rate. tests/recipes_test.ts checks both against
 * the replica's own optimizer in torch.
 *
 * @module
 */

import type { ImageSet } from "../data/image_set.ts";
import { batchNormBiases } from "../nn/fast_net.ts";
import type { Sequential } from "../nn/sequential.ts";
import {
  AIRBENCH94,
  type FastAugmentation,
  fastAugmentation,
  type FastOptimizerSettings,
  fastOptimizerSettings,
  fastRecipeModel,
} from "./fast_recipe.ts";
import type { BatchSource } from "./batch_source.ts";
import type { FitOptions, LookaheadSettings } from "./fit_options.ts";
import type { OptimizerConfig } from "./optimizers.ts";
import { type LearningRateSchedule, TriangularSchedule } from "./schedules.ts";
import type { TtaOptions } from "./tta.ts";
import type { WhiteningOptions } from "./whitening.ts";

/** Options of {@linkcode fastRecipe}; defaults are airbench94's. */
export interface FastRecipeOptions {
  /** Multiplies the group widths 64/256/256; default 1 (0.5: the small net). */
  width?: number;
  /** Seed of the weights, the shuffling, the translations and the flip bits. Default 0. */
  seed?: number;
  /** Default 1024 (at most the training images). */
  batchSize?: number;
  /** Epochs, the last one partial; default 9.9. */
  epochs?: number;
  /** Number of classes; default 10. */
  classes?: number;
  /** The whitening stem's options (images used, epsilon). */
  whitening?: WhiteningOptions;
}

/** The fast recipe's parts; replace any before {@linkcode recipeFitOptions}. */
export interface FastRecipe {
  /** The whitened network (`fastNet` with its stem from the training images). */
  model: Sequential;
  /** SGD with Nesterov momentum, decoupled decay, the BatchNorm-offset group. */
  optimizer: OptimizerConfig;
  /** The triangular schedule of the learning rate over `totalSteps`. */
  schedule: LearningRateSchedule;
  /** The alternating flip and 2-pixel translation, straight from uint8. */
  augmentation: FastAugmentation;
  /** Lookahead every 5 steps, decay `0.95^5 (step / total)^3`. */
  lookahead: LookaheadSettings;
  /** The final evaluation's test-time augmentation: mirror and translations. */
  tta: Required<TtaOptions>;
  labelSmoothing: number;
  batchSize: number;
  /** Whole epochs `fit` runs (the last one cut by `totalSteps`). */
  epochs: number;
  /** Optimizer steps of the run: 9.9 epochs of whole batches. */
  totalSteps: number;
  /** The seed of `fit`'s generator. */
  seed: number;
  /** The numbers the optimizer config was made from. */
  settings: FastOptimizerSettings;
}

/** Escapes a weight name for the parameter group's regular expression. */
function exactName(name: string): string {
  return `^${name.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}$`;
}

/**
 * The fast recipe for `train`: the model is built (and its stem whitened)
 * from `train`, so the parts are ready for `fit(recipe.model, train, ...)`.
 */
export function fastRecipe(
  train: ImageSet,
  options: FastRecipeOptions = {},
): FastRecipe {
  const seed = options.seed ?? 0;
  const epochs = options.epochs ?? AIRBENCH94.epochs;
  if (!(epochs > 0 && Number.isFinite(epochs))) {
    throw new RangeError(`the fast recipe's epochs must be > 0, got ${epochs}`);
  }
  const batchSize = Math.min(
    options.batchSize ?? AIRBENCH94.batchSize,
    train.count,
  );
  const s = fastOptimizerSettings(train.count, batchSize, epochs);
  const model = fastRecipeModel(train, {
    width: options.width,
    classes: options.classes,
    seed,
    whitening: options.whitening,
  });
  // Every group decays by the same `decoupledDecayPerStep` per step at
  // schedule factor 1: Keras 3 multiplies the decay by the weight's rate.
  const d = s.decoupledDecayPerStep;
  const biases = batchNormBiases(model).map((w) => exactName(w.name));
  const peak = s.learningRate;
  return {
    model,
    optimizer: {
      kind: "sgd",
      learningRate: peak,
      momentum: s.momentum,
      nesterov: true,
      weightDecay: d / peak,
      paramGroups: biases.length === 0 ? [] : [{
        match: biases.join("|"),
        learningRateMultiplier: AIRBENCH94.biasLrScale,
        weightDecay: d / s.biasLearningRate,
      }],
    },
    schedule: new TriangularSchedule({
      initialLearningRate: AIRBENCH94.start * peak,
      peakLearningRate: peak,
      endLearningRate: AIRBENCH94.end * peak,
      warmupSteps: Math.floor(s.totalSteps * AIRBENCH94.warmupFraction),
      totalSteps: s.totalSteps,
    }),
    // The flip bits get their own stream, apart from fit's generator
    // (which starts from `seed` too).
    augmentation: fastAugmentation(train, (seed ^ 0x5bd1e995) >>> 0),
    lookahead: { every: AIRBENCH94.lookaheadEvery, base: 0.95 ** 5 },
    tta: { flip: true, translate: true },
    labelSmoothing: AIRBENCH94.labelSmoothing,
    batchSize,
    epochs: Math.ceil(epochs),
    totalSteps: s.totalSteps,
    seed,
    settings: s,
  };
}

/** The augmentation as `fit`'s batch source. */
export function augmentationSource(
  augmentation: FastAugmentation,
): BatchSource {
  return {
    description: `flip-translate ${AIRBENCH94.translate}px`,
    images: (indices, epoch, rng) => augmentation.batch(indices, epoch, rng),
  };
}

/**
 * `fit`'s options for a recipe's parts (the model is `fit`'s first
 * argument; add validation, checkpoint, verbosity as usual).
 */
export function recipeFitOptions(recipe: FastRecipe): FitOptions {
  return {
    epochs: recipe.epochs,
    totalSteps: recipe.totalSteps,
    batchSize: recipe.batchSize,
    dropRemainder: true,
    optimizer: recipe.optimizer,
    schedule: recipe.schedule,
    labelSmoothing: recipe.labelSmoothing,
    batches: augmentationSource(recipe.augmentation),
    lookahead: recipe.lookahead,
    seed: recipe.seed,
  };
}

/**
 * The recipes by name: `recipes.fast(train, { width: 0.5 })`. The seed
 * recipe is `fit`'s defaults (Adam, 5 epochs, batch 64, augmentation).
 */
export const recipes: { readonly fast: typeof fastRecipe } = Object.freeze({
  fast: fastRecipe,
});
