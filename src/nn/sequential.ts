/**
 * A Keras-style sequential model: the chain case of {@linkcode Model}, built
 * from a list of layers, saved as a Keras `Sequential` topology.
 *
 * @module
 */

import { connect, Input } from "./graph.ts";
import { formatShape, type Initializer, type Layer } from "./layer.ts";
import { Model } from "./model.ts";
import { summaryLines } from "./summary.ts";

export { nameLayers } from "./layer_names.ts";
export type { LayerOutput, WeightValues } from "./model.ts";

/** Options of {@linkcode Sequential}. */
export interface SequentialOptions {
  /** Input shape without the batch axis, e.g. `[32, 32, 3]`. */
  inputShape: number[];
  /** Model name; default `sequential`. */
  name?: string;
  /** Seed of the kernel initialiser; default 0. Ignored when `init` is given. */
  seed?: number;
  /** Kernel initialiser; default Glorot uniform from `seed`. */
  init?: Initializer;
}

function chain(layers: readonly Layer[], inputShape: number[]) {
  if (layers.length === 0) {
    throw new Error("Sequential needs at least one layer");
  }
  if (!inputShape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new RangeError(
      `inputShape must be whole sizes >= 1 such as [32, 32, 3], got [${inputShape}]`,
    );
  }
  const inputs = Input({ shape: inputShape });
  return { inputs, outputs: layers.reduce((x, l) => connect(l, x), inputs) };
}

/** A stack of layers applied in order. */
export class Sequential extends Model {
  /**
   * Names unnamed layers like Keras (`conv2d`, `conv2d_1`, ...) and builds
   * their weights in layer order from one initialiser.
   */
  constructor(layers: Layer[], options: SequentialOptions) {
    super({
      ...chain(layers, options.inputShape),
      name: options.name ?? "sequential",
      seed: options.seed,
      init: options.init,
    });
  }

  /** The layers, in order. */
  override get layers(): readonly Layer[] {
    return super.layers as readonly Layer[];
  }

  /** Keras 2's `model.summary()` text (lines joined by `\n`), also printed by `print`. */
  override summary(
    print: ((line: string) => void) | null = console.log,
  ): string {
    const rows = this.layers.map((layer, i) => ({
      name: layer.name,
      className: layer.className,
      outputShape: formatShape(this.outputShapes[i] ?? []),
      params: layer.weights.reduce((n, w) => n + w.variable.size, 0),
    }));
    const trainable = this.trainableWeights.reduce(
      (n, w) => n + w.variable.size,
      0,
    );
    const lines = summaryLines(
      this.name,
      rows,
      trainable,
      this.countParams() - trainable,
    );
    if (print) lines.forEach((line) => print(line));
    return lines.join("\n");
  }
}
