/**
 * The fast recipe's parts that do not depend on the optimizer (after
 * airbench94, arXiv 2404.00498): the network with its whitening stem
 * computed from the training images, the augmentation, and the recipe's
 * numbers, converted from airbench's "per 1024 images" units to the ones a
 * batch-mean loss and an SGD step use. The optimizer, the schedule and the
 * label smoothing are the trainer's (src/train); the `--recipe fast`
 * wiring puts them together.
 *
 * @module
 */

import type { ImageSet } from "../data/image_set.ts";
import { fastNet, type FastNetOptions } from "../nn/fast_net.ts";
import type { Sequential } from "../nn/sequential.ts";
import { Rng } from "../util/random.ts";
import {
  alternatingFlipBits,
  flipTranslateBatch,
} from "./augment_flip_translate.ts";
import { type WhiteningOptions, whiteningStem } from "./whitening.ts";

/** airbench94's hyperparameters, in its own units. */
export const AIRBENCH94 = Object.freeze({
  /** Epochs; the last is cut at 0.9 of the steps of one. */
  epochs: 9.9,
  batchSize: 1024,
  /** Learning rate per 1024 images of summed loss, before momentum scaling. */
  lrPer1024: 11.5,
  /** Nesterov momentum. */
  momentum: 0.85,
  /** Weight decay per 1024 images, decoupled from the learning rate. */
  weightDecayPer1024: 0.0153,
  /** BatchNorm biases learn this many times faster (same decay). */
  biasLrScale: 64,
  labelSmoothing: 0.2,
  /**
   * Triangular schedule (the trainer's): the factor rises linearly from
   * `start` to 1 over this share of the steps...
   */
  warmupFraction: 0.23,
  start: 0.2,
  /** ...then decay linearly to `end` at the last step. */
  end: 0.07,
  /** Lookahead every this many steps, decay `0.95^5 (step / total)^3`. */
  lookaheadEvery: 5,
  /** Translation in pixels (reflection padding). */
  translate: 2,
});

/** The recipe's optimizer numbers for one batch size. */
export interface FastOptimizerSettings {
  /** SGD learning rate for the batch-mean loss (at schedule factor 1). */
  learningRate: number;
  /** Nesterov momentum. */
  momentum: number;
  /**
   * L2 coefficient added to the gradient of the batch-mean loss (`g + wd * w`,
   * through the momentum, as PyTorch's SGD `weight_decay` does). Learning
   * rate times it is the same for every group, so the decay per step does
   * not change with the BatchNorm biases' faster learning rate.
   */
  weightDecay: number;
  /** Learning rate of the BatchNorm biases: `learningRate * 64`. */
  biasLearningRate: number;
  /** Their L2 coefficient: `weightDecay / 64`. */
  biasWeightDecay: number;
  /**
   * The same decay applied outside the momentum (`w -= factor * d * w`
   * each step, AdamW-style decoupled decay), the same for every group.
   * Through Nesterov momentum `m` a decay `a = learningRate * weightDecay`
   * per step settles to shrinking the weights by the root `d` of
   * `d^2 - d (1 - m + a (1 + m)) + a = 0` per step (about `a / (1 - m)`
   * when `a` is small against `1 - m`; at batch 1024 that estimate is 7%
   * low: 0.0133 against 0.0143). Exact at schedule factor 1.
   */
  decoupledDecayPerStep: number;
  /** Total optimizer steps for `epochs` of `stepsPerEpoch`. */
  totalSteps: number;
}

/**
 * airbench's SGD settings for `trainImages` images in batches of
 * `batchSize` (the last partial batch of an epoch dropped, as airbench
 * does). airbench divides its per-1024 rates by `1024 (1 + 1 / (1 - m))`,
 * the factor by which Nesterov momentum `m` lengthens steps under a
 * constant gradient, so that changing the momentum leaves the step size
 * alone; with a batch-mean loss (simdnet's) the learning rate is that
 * times the batch size. At batch 1024: learning rate 1.5, weight decay
 * 0.0153 / 11.5 = 1.33e-3.
 */
export function fastOptimizerSettings(
  trainImages: number,
  batchSize: number = AIRBENCH94.batchSize,
  epochs: number = AIRBENCH94.epochs,
): FastOptimizerSettings {
  if (
    !Number.isInteger(batchSize) || batchSize < 1 || trainImages < batchSize
  ) {
    throw new RangeError(
      `the fast recipe needs a whole batch size >= 1 and at least one ` +
        `batch of images, got batch ${batchSize} for ${trainImages} images`,
    );
  }
  const m = AIRBENCH94.momentum;
  const kilostep = 1024 * (1 + 1 / (1 - m));
  const lrPerImage = AIRBENCH94.lrPer1024 / kilostep;
  const decayPerStep = AIRBENCH94.weightDecayPer1024 * batchSize / kilostep;
  const learningRate = lrPerImage * batchSize;
  const weightDecay = decayPerStep / learningRate;
  const stepsPerEpoch = Math.floor(trainImages / batchSize);
  return {
    learningRate,
    momentum: m,
    weightDecay,
    biasLearningRate: learningRate * AIRBENCH94.biasLrScale,
    biasWeightDecay: weightDecay / AIRBENCH94.biasLrScale,
    decoupledDecayPerStep: steadyDecay(decayPerStep, m),
    totalSteps: Math.ceil(stepsPerEpoch * epochs),
  };
}

// The per-step shrink rate an L2 decay `a` settles to under Nesterov
// momentum `m`: with w_t = r^t and the velocity following, r = 1 - d
// solves the quadratic above (the smaller root is the slow, surviving
// mode). Complex roots (a huge decay) fall back to a / (1 - m).
function steadyDecay(a: number, m: number): number {
  const b = 1 - m + a * (1 + m);
  const disc = b * b - 4 * a;
  return disc >= 0 ? (b - Math.sqrt(disc)) / 2 : a / (1 - m);
}

/** Options of {@linkcode fastRecipeModel}. */
export interface FastRecipeModelOptions
  extends Omit<FastNetOptions, "stem" | "inputShape"> {
  whitening?: WhiteningOptions;
}

/**
 * The network for `train`: {@linkcode fastNet} on its image shape, the
 * stem whitened from its first images (5000 by default).
 */
export function fastRecipeModel(
  train: ImageSet,
  options: FastRecipeModelOptions = {},
): Sequential {
  const { kernel, bias } = whiteningStem(train, options.whitening);
  const [h, w, c] = train.shape;
  return fastNet({ ...options, inputShape: [h, w, c], stem: { kernel, bias } });
}

/** The recipe's augmentation of one training set. */
export interface FastAugmentation {
  /** The alternating flip's bits, one per training image. */
  readonly flips: Uint8Array;
  /**
   * The augmented float batch of the images at `indices` in `epoch`,
   * translations drawn from `rng` (the trainer's, saved in checkpoints).
   */
  batch(
    indices: ArrayLike<number>,
    epoch: number,
    rng: Rng,
    out?: Float32Array,
  ): Float32Array;
}

/**
 * The augmentation for `train`: the flip bits come from their own
 * generator seeded by `seed`, so a resumed run rebuilds the same bits
 * without storing them.
 */
export function fastAugmentation(
  train: ImageSet,
  seed: number,
): FastAugmentation {
  const flips = alternatingFlipBits(train.count, new Rng(seed));
  return {
    flips,
    batch: (indices, epoch, rng, out) =>
      flipTranslateBatch(
        train,
        indices,
        { flips, epoch, rng, pad: AIRBENCH94.translate },
        out,
      ),
  };
}
