/**
 * Shared helpers of the trainer tests: toy data sets, a small model, and a
 * progress sink that records what is written.
 */

import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { MaxPooling2D } from "../src/nn/max_pooling2d.ts";
import type { Model } from "../src/nn/model.ts";
import { Sequential } from "../src/nn/sequential.ts";
import type { ImageSet } from "../src/data/image_set.ts";
import type { ProgressOutput } from "../src/train/progress.ts";
import { fit } from "../src/train/fit.ts";
import type { FitOptions } from "../src/train/fit_options.ts";
import assert from "node:assert/strict";
import { Rng } from "../src/util/random.ts";

/**
 * A learnable toy task: 8x8 RGB noise with a bright 3x3 square in one
 * quadrant; the quadrant is the class.
 */
export function quadrants(n: number, seed: number): ImageSet {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 8 * 8 * 3);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const label = rng.int(4);
    labels[i] = label;
    const top = (label >> 1) * 4 + rng.int(2);
    const left = (label & 1) * 4 + rng.int(2);
    for (let p = 0; p < 64 * 3; p++) images[i * 192 + p] = rng.int(60);
    for (let r = top; r < top + 3; r++) {
      for (let c = left; c < left + 3; c++) {
        for (let ch = 0; ch < 3; ch++) {
          images[i * 192 + (r * 8 + c) * 3 + ch] = 200 + rng.int(56);
        }
      }
    }
  }
  return { images, labels, count: n, shape: [8, 8, 3] };
}

export function smallModel(seed: number): Sequential {
  return new Sequential([
    new Conv2D({
      filters: 8,
      kernelSize: 3,
      padding: "same",
      activation: "relu",
    }),
    new MaxPooling2D({ poolSize: 2 }),
    new Flatten(),
    new Dense({ units: 4, activation: "softmax" }),
  ], { inputShape: [8, 8, 3], seed });
}

/** CIFAR-shaped toy data: 8x8 images, ten classes, random pixels. */
export function randomImages(n: number, seed: number): ImageSet {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * 192).map(() => rng.int(256));
  const labels = new Uint8Array(n).map(() => rng.int(10));
  return { images, labels, count: n, shape: [8, 8, 3] };
}

export const quiet = { verbose: 0 } as const;

export async function weightsOf(model: Model): Promise<Float32Array[]> {
  return (await model.getWeights()).map((w) => w.values);
}

export function dispose(model: Model): void {
  model.dispose();
}

/** A progress sink that keeps the text. */
export function capture(
  isTTY: boolean,
): ProgressOutput & { text: () => string } {
  let buf = "";
  return { isTTY, write: (t: string) => (buf += t), text: () => buf };
}

/** `n` random records in each CIFAR-10 training batch file of `dir`, no test batch. */
export async function fakeCifar(dir: string, n: number): Promise<void> {
  const rng = new Rng(5);
  for (let b = 1; b <= 5; b++) {
    const out = new Uint8Array(n * 3073).map(() => rng.int(256));
    for (let i = 0; i < n; i++) out[i * 3073] = i % 10;
    await Deno.writeFile(`${dir}/data_batch_${b}.bin`, out);
  }
}

/**
 * Trains `model` on `data` with `options` (a checkpoint among them) and
 * kills the run in process at the second batch of its second epoch, as a
 * crash would: the checkpoint then holds exactly one epoch.
 */
export async function fitKilledInEpoch2(
  model: Model,
  data: ImageSet,
  options: FitOptions,
): Promise<void> {
  let epochsDone = 0;
  await assert.rejects(
    fit(model, data, {
      ...options,
      onEpochEnd: () => {
        epochsDone++;
      },
      onBatchEnd: (step) => {
        if (epochsDone === 1 && step === 1) throw new Error("killed");
      },
    }),
    /killed/,
  );
}
