/**
 * A training process for the kill -9 tests (tests/checkpoint_kill_test.ts):
 * trains the small toy model on the `cpu` backend with a checkpoint in
 * `dir`, resuming when one (or the previous one) is there, and writes the
 * final weights to `dir/final.bin`. A checkpoint refused is one line on
 * stderr and exit code 2, as in the train CLI.
 *
 * With a third argument `transfer`, the conv layer is frozen for EPOCHS
 * epochs and then everything is fine-tuned for 2 more (a transfer run).
 * With `sgd`, the model has BatchNormalization between its conv and ReLU,
 * and the run uses SGD with Nesterov momentum and weight decay (biases and
 * BatchNorm betas at 4x the rate, undecayed), a
 * cosine schedule with warm-up, label smoothing, ReduceLROnPlateau and
 * ModelCheckpoint(save_best_only) into `DIR/best`; `sgd-as-adam` resumes
 * such a run with Adam (to be refused). With `fast`, the fast recipe
 * (src/train/recipes.ts: its whitened network at width 1/16, SGD, the
 * triangular schedule, the flip/translate batch source, lookahead) trains
 * EPOCHS (may be fractional) on 64 random 32x32 images in batches of 16.
 *
 * usage: deno run --allow-read --allow-write=/tmp _ckpt_child.ts DIR EPOCHS [transfer|sgd|sgd-as-adam|fast]
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { registerGradients } from "../src/runtime/gradients.ts";
import { CheckpointError, previousPath } from "../src/train/checkpoint.ts";
import { freezeLayers } from "../src/nn/transfer.ts";
import { BatchNormalization } from "../src/nn/batch_normalization.ts";
import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { MaxPooling2D } from "../src/nn/max_pooling2d.ts";
import { ReLU } from "../src/nn/relu.ts";
import { Sequential } from "../src/nn/sequential.ts";
import { fit, type FitOptions } from "../src/train/fit.ts";
import { ModelCheckpoint } from "../src/train/model_checkpoint.ts";
import { ReduceLROnPlateau } from "../src/train/reduce_lr_on_plateau.ts";
import { CosineDecay } from "../src/train/schedules.ts";
import { recipeFitOptions, recipes } from "../src/train/recipes.ts";
import { Rng } from "../src/util/random.ts";
import { quadrants, smallModel, weightsOf } from "./_train_fixtures.ts";

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

const [dir, epochs] = [Deno.args[0]!, Number(Deno.args[1] ?? 4)];
const mode = Deno.args[2] ?? "";
const transfer = mode === "transfer";
/** The optimizer, schedule and callbacks of the `sgd` modes. */
function sgdOptions(): FitOptions {
  const steps = epochs * 16; // 256 images in batches of 16
  return {
    optimizer: mode === "sgd-as-adam" ? { kind: "adam" } : {
      kind: "sgd",
      momentum: 0.9,
      nesterov: true,
      weightDecay: 5e-4,
      paramGroups: [{
        match: "/(bias|beta)$",
        learningRateMultiplier: 4,
        weightDecay: 0,
      }],
    },
    schedule: new CosineDecay({
      initialLearningRate: 0,
      decaySteps: steps - 16,
      warmupTarget: 0.05,
      warmupSteps: 16,
      alpha: 0.1,
    }),
    labelSmoothing: 0.1,
    callbacks: [
      // A large min_delta, so that the plateau fires within a short run.
      new ReduceLROnPlateau({
        monitor: "loss",
        patience: 1,
        factor: 0.5,
        minDelta: 0.05,
      }),
      new ModelCheckpoint({
        filepath: `${dir}/best`,
        monitor: "loss",
        saveBestOnly: true,
      }),
    ],
  };
}
await tf.setBackend("cpu");
registerGradients();
const checkpoint = `${dir}/c.ckpt`;
const resume = await exists(checkpoint) ||
  await exists(previousPath(checkpoint));
/** The toy model with BatchNormalization (moving statistics in the checkpoint too). */
const bnModel = () =>
  new Sequential([
    new Conv2D({ filters: 8, kernelSize: 3, padding: "same" }),
    new BatchNormalization({ momentum: 0.9 }),
    new ReLU(),
    new MaxPooling2D({ poolSize: 2 }),
    new Flatten(),
    new Dense({ units: 4, activation: "softmax" }),
  ], { inputShape: [8, 8, 3], seed: 1 });
/** 64 random 32x32 images of 10 classes, for the fast recipe. */
function fastData() {
  const rng = new Rng(3);
  return {
    images: new Uint8Array(64 * 3072).map(() => rng.int(256)),
    labels: new Uint8Array(64).map(() => rng.int(10)),
    count: 64,
    shape: [32, 32, 3] as [number, number, number],
  };
}
const fast = mode === "fast"
  ? recipes.fast(fastData(), { width: 0.0625, batchSize: 16, epochs, seed: 5 })
  : null;
const model = fast?.model ??
  (mode.startsWith("sgd") ? bnModel() : smallModel(1));
if (transfer) freezeLayers(model, 1);
try {
  await fit(
    model,
    fast ? fastData() : quadrants(256, 2),
    fast
      ? {
        ...recipeFitOptions(fast),
        verbose: 0,
        checkpoint,
        resume,
        onWarning: (line) => console.error(`warning: ${line}`),
      }
      : {
        verbose: 0,
        epochs,
        batchSize: 16,
        learningRate: 0.01,
        augment: true,
        seed: 7,
        fineTune: transfer ? { epochs: 2, learningRate: 3e-3 } : undefined,
        ...(mode.startsWith("sgd") ? sgdOptions() : {}),
        checkpoint,
        resume,
        onWarning: (line) => console.error(`warning: ${line}`),
      },
  );
} catch (error) {
  if (!(error instanceof CheckpointError)) throw error;
  console.error(`error: ${error.message}`);
  Deno.exit(2);
}
const weights = await weightsOf(model);
const total = weights.reduce((n, w) => n + w.length, 0);
const out = new Float32Array(total);
let at = 0;
for (const w of weights) {
  out.set(w, at);
  at += w.length;
}
await Deno.writeFile(`${dir}/final.bin`, new Uint8Array(out.buffer));
