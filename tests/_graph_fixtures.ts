/**
 * Shared helpers of the functional-model tests: residual networks built
 * with tfjs-layers on random shapes. The builder takes tfjs-layers as an
 * argument: it runs in the tfjs-layers child (`_tfl_child.ts`), and no
 * test process imports tfjs-layers (its bundle would register tfjs'
 * gradient configs there).
 */

import type * as Tfl from "@tensorflow/tfjs-layers";
import type { Rng } from "../src/util/random.ts";

/** Sizes of a random residual network. */
export interface ResNetShape {
  size: number;
  channels: number;
  filters: number;
  classes: number;
}

/** Draws the sizes of a small residual network from `rng`. */
export function randomShape(rng: Rng): ResNetShape {
  return {
    size: 6 + rng.int(5),
    channels: 1 + rng.int(3),
    filters: 3 + rng.int(4),
    classes: 2 + rng.int(4),
  };
}

type Sym = Tfl.SymbolicTensor;

function conv(
  tfl: typeof Tfl,
  filters: number,
  kernelSize: number,
  activation: "relu" | "linear",
) {
  return tfl.layers.conv2d({
    filters,
    kernelSize,
    padding: "same",
    activation,
    biasInitializer: "randomNormal",
  });
}

/**
 * A residual network in tfjs-layers: a stem, three residual blocks
 * (conv-relu, conv, Add with the block input; a max-pooling after the
 * second), a 1x1 branch joined by Concatenate, a gate by Multiply, then
 * Flatten and a softmax Dense.
 */
export function tflResNet(tfl: typeof Tfl, s: ResNetShape): Tfl.LayersModel {
  const input = tfl.input({ shape: [s.size, s.size, s.channels] });
  let x = conv(tfl, s.filters, 3, "relu").apply(input) as Sym;
  for (let b = 0; b < 3; b++) {
    const h = conv(tfl, s.filters, 3, "relu").apply(x) as Sym;
    const y = conv(tfl, s.filters, 3, "linear").apply(h) as Sym;
    x = tfl.layers.add().apply([x, y]) as Sym;
    if (b === 1) x = tfl.layers.maxPooling2d({ poolSize: 2 }).apply(x) as Sym;
  }
  const branch = conv(tfl, s.filters, 1, "relu").apply(x) as Sym;
  x = tfl.layers.concatenate().apply([x, branch]) as Sym;
  const gate = conv(tfl, 2 * s.filters, 1, "linear").apply(x) as Sym;
  x = tfl.layers.multiply().apply([x, gate]) as Sym;
  x = tfl.layers.flatten().apply(x) as Sym;
  const out = tfl.layers.dense({
    units: s.classes,
    activation: "softmax",
    biasInitializer: "randomNormal",
  }).apply(x) as Sym;
  return tfl.model({ inputs: input, outputs: out });
}

/** Largest absolute difference relative to the largest reference value. */
export function relErr(ref: ArrayLike<number>, got: ArrayLike<number>): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(ref[i]! - got[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  if (ref.length !== got.length || Number.isNaN(err)) return Infinity;
  return err / (scale || 1);
}
