/**
 * Where `fit` takes each training batch's float images from when it does
 * not convert `byte / 255` itself: the hook through which the fast
 * recipe's flip and translation run straight from the uint8 images.
 *
 * @module
 */

import type { Rng } from "../util/random.ts";

/** The float images of one training batch, see `FitOptions.batches`. */
export interface BatchSource {
  /** Names the source in the checkpoint's settings: a resume must use the same. */
  readonly description: string;
  /**
   * Float32 NHWC images at `indices` of the training set in 0-based
   * `epoch`, anything random drawn from `rng` (the trainer's, so a resumed
   * run continues it). Return a new array each call: tfjs' `cpu` backend
   * keeps the array a tensor is made from.
   */
  images(indices: ArrayLike<number>, epoch: number, rng: Rng): Float32Array;
}
