/**
 * The seed notebook's CIFAR-10 CNN (2,168,362 parameters).
 *
 * @module
 */

import { Conv2D } from "./conv2d.ts";
import { Dense } from "./dense.ts";
import { Dropout } from "./dropout.ts";
import { Flatten } from "./flatten.ts";
import { MaxPooling2D } from "./max_pooling2d.ts";
import { Sequential } from "./sequential.ts";

/** Options of {@linkcode cifarCnn}. */
export interface CifarCnnOptions {
  /** Seed of the Glorot-uniform kernels; default 0. */
  seed?: number;
  /** Input shape; default `[32, 32, 3]` (smaller images make small test models). */
  inputShape?: [number, number, number];
  /** Number of classes; default 10. */
  classes?: number;
}

/**
 * Builds the notebook's model: two conv blocks (32 then 64 filters, 3x3,
 * `same`, relu; 2x2 max pooling; dropout 0.25), then flatten, dense 512
 * relu, dropout 0.5 and dense softmax.
 */
export function cifarCnn(options: CifarCnnOptions = {}): Sequential {
  const conv = (filters: number) =>
    new Conv2D({ filters, kernelSize: 3, padding: "same", activation: "relu" });
  return new Sequential([
    conv(32),
    conv(32),
    new MaxPooling2D({ poolSize: 2 }),
    new Dropout(0.25),
    conv(64),
    conv(64),
    new MaxPooling2D({ poolSize: 2 }),
    new Dropout(0.25),
    new Flatten(),
    new Dense({ units: 512, activation: "relu" }),
    new Dropout(0.5),
    new Dense({ units: options.classes ?? 10, activation: "softmax" }),
  ], {
    inputShape: options.inputShape ?? [32, 32, 3],
    seed: options.seed ?? 0,
  });
}
