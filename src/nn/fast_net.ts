/**
 * The fast recipe's network (after Keller Jordan's airbench94,
 * arXiv 2404.00498): a frozen 2x2 whitening stem, three conv groups and a
 * bias-free linear head with a fixed output scale. A plain `Sequential` of
 * simdnet's Keras layers, so it saves in the TF.js Layers format and loads
 * in tfjs-layers.
 *
 * @module
 */

import { createRng } from "../util/random.ts";
import { Activation } from "./activation_layer.ts";
import { BatchNormalization } from "./batch_normalization.ts";
import { Conv2D } from "./conv2d.ts";
import { Dense } from "./dense.ts";
import { diracInit, torchUniform } from "./dirac.ts";
import { Flatten } from "./flatten.ts";
import type { Layer, NamedWeight } from "./layer.ts";
import { MaxPooling2D } from "./max_pooling2d.ts";
import { Rescaling } from "./rescaling.ts";
import { Sequential } from "./sequential.ts";
import * as tf from "@tensorflow/tfjs-core";

/** The stem's weights, e.g. from `whiteningStem` (src/train/whitening.ts). */
export interface StemWeights {
  /** `[2, 2, channels, filters]` row-major. */
  kernel: Float32Array;
  /** `[filters]`. */
  bias: Float32Array;
}

/** Options of {@linkcode fastNet}; defaults are airbench94's. */
export interface FastNetOptions {
  /**
   * Multiplies the group widths 64/256/256 (rounded, at least 1); default
   * 1. The small variant is 0.5 (32/128/128).
   */
  width?: number;
  /** Number of classes; default 10. */
  classes?: number;
  /** Input shape; default `[32, 32, 3]` (at least 28x28: four poolings). */
  inputShape?: [number, number, number];
  /** Seed of the initial weights; default 0. */
  seed?: number;
  /**
   * The whitening stem's kernel and bias. Without it the stem keeps its
   * random initial values: set it with {@linkcode setStem} before training
   * (a model read from a file has its saved stem anyway).
   */
  stem?: StemWeights;
  /**
   * Keras momentum of the BatchNormalization moving averages; default 0.6
   * (airbench's; PyTorch momentum 0.4): with about 10 epochs the moving
   * statistics must follow the fast-changing weights.
   */
  batchNormMomentum?: number;
  /** BatchNormalization epsilon; default 1e-12, as airbench. */
  batchNormEpsilon?: number;
  /**
   * Fixed scale of the logits after the bias-free head; default 1/9. A
   * smaller output scale acts like a lower temperature on the logits,
   * which airbench found to train faster than a learned scale.
   */
  outputScale?: number;
}

/** The whitening stem's filters for `channels` inputs and a 2x2 kernel. */
export function stemFilters(channels: number): number {
  return 2 * 2 * 2 * channels;
}

/** The group widths for `width`: `64, 256, 256` times it, rounded. */
export function fastNetWidths(width = 1): [number, number, number] {
  if (!(width > 0 && Number.isFinite(width))) {
    throw new RangeError(`fastNet width must be > 0, e.g. 0.5, got ${width}`);
  }
  const w = (base: number) => Math.max(1, Math.round(base * width));
  return [w(64), w(256), w(256)];
}

/**
 * Builds the network: `whiten` (Conv2D 2x2 `valid`, with bias, frozen)
 * and GELU; three groups `groupN_conv1` (3x3 `same`, no bias) ->
 * `groupN_pool` (2x2) -> `groupN_bn1` -> GELU -> `groupN_conv2` ->
 * `groupN_bn2` -> GELU, the BatchNormalizations learning only their
 * offset (`scale: false`, as airbench freezes the scale at 1); a final 3x3
 * max-pool, Flatten, `head` (Dense, no bias) and `logit_scale` (Rescaling).
 * The output is logits. The 3x3 kernels are dirac-initialised (see
 * `diracInit`), the rest PyTorch-default uniform from `seed`.
 */
export function fastNet(options: FastNetOptions = {}): Sequential {
  const inputShape = options.inputShape ?? [32, 32, 3];
  const widths = fastNetWidths(options.width ?? 1);
  const momentum = options.batchNormMomentum ?? 0.6;
  const epsilon = options.batchNormEpsilon ?? 1e-12;
  const gelu = (name: string) => new Activation("gelu", { name });
  const bn = (name: string) =>
    new BatchNormalization({ name, momentum, epsilon, scale: false });
  const conv = (name: string, filters: number) =>
    new Conv2D({
      name,
      filters,
      kernelSize: 3,
      padding: "same",
      useBias: false,
    });
  const stem = new Conv2D({
    name: "whiten",
    filters: stemFilters(inputShape[2]),
    kernelSize: 2,
    padding: "valid",
  });
  stem.trainable = false;
  const layers: Layer[] = [stem, gelu("whiten_gelu")];
  widths.forEach((filters, g) => {
    const p = `group${g + 1}_`;
    layers.push(
      conv(`${p}conv1`, filters),
      new MaxPooling2D({ name: `${p}pool`, poolSize: 2 }),
      bn(`${p}bn1`),
      gelu(`${p}gelu1`),
      conv(`${p}conv2`, filters),
      bn(`${p}bn2`),
      gelu(`${p}gelu2`),
    );
  });
  layers.push(
    new MaxPooling2D({ name: "final_pool", poolSize: 3 }),
    new Flatten({ name: "flatten" }),
    new Dense({ name: "head", units: options.classes ?? 10, useBias: false }),
    new Rescaling(options.outputScale ?? 1 / 9, { name: "logit_scale" }),
  );
  const model = new Sequential(layers, {
    inputShape,
    name: "fast_net",
    init: torchUniform(createRng(options.seed ?? 0)),
  });
  for (const layer of model.layers) {
    if (layer instanceof Conv2D && layer !== stem) {
      const kernel = layer.weights[0]!.variable;
      const values = diracInit(
        (kernel.dataSync() as Float32Array).slice(),
        kernel.shape,
      );
      tf.tidy(() => kernel.assign(tf.tensor(values, kernel.shape)));
    }
  }
  if (options.stem) setStem(model, options.stem);
  return model;
}

/** Sets the `whiten` layer's kernel and bias, e.g. to `whiteningStem`'s. */
export function setStem(model: Sequential, stem: StemWeights): void {
  const layer = model.layers.find((l) => l.name === "whiten");
  const [kernel, bias] = layer?.weights ?? [];
  if (!kernel || !bias) {
    throw new Error(
      `${model.name} has no 'whiten' conv layer with a bias; build it with ` +
        `fastNet()`,
    );
  }
  for (
    const [w, values] of [[kernel, stem.kernel], [bias, stem.bias]] as const
  ) {
    if (values.length !== w.variable.size) {
      throw new RangeError(
        `the stem's ${w.name} has ${w.variable.size} values ` +
          `[${w.variable.shape}], got ${values.length}; compute the ` +
          `whitening for images of the model's input shape`,
      );
    }
    tf.tidy(() => w.variable.assign(tf.tensor(values, w.variable.shape)));
  }
}

/**
 * The BatchNormalization offsets (`beta`) of a model, which the recipe
 * trains at a higher learning rate (airbench's `bias_scaler` 64) without
 * scaling their weight decay.
 */
export function batchNormBiases(model: Sequential): NamedWeight[] {
  return model.trainableWeights.filter((w) => {
    const layer = model.layers.find((l) => l.weights.includes(w));
    return layer?.className === "BatchNormalization" &&
      w.name.endsWith("/beta");
  });
}
