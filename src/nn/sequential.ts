/**
 * A Keras-style sequential model holding its weights as tfjs variables.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "../util/random.ts";
import { glorotUniform } from "./initializers.ts";
import {
  type ApplyContext,
  formatShape,
  type Initializer,
  type Layer,
  type NamedWeight,
  sizeOf,
} from "./layer.ts";
import { summaryLines } from "./summary.ts";

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

/** A layer's output, from {@linkcode Sequential.activations}. */
export interface LayerOutput {
  name: string;
  className: string;
  output: tf.Tensor;
}

/** Weight values detached from the backend, e.g. for saving. */
export interface WeightValues {
  name: string;
  shape: number[];
  values: Float32Array;
}

// Keras' automatic names: its snake_case of the class name, so `Conv2D`
// gives `conv2d` and `MaxPooling2D` gives `max_pooling2d`.
function snakeCase(className: string): string {
  return className
    .replace(/(.)([A-Z][a-z0-9]+)/g, "$1_$2")
    .replace(/([a-z])([A-Z])/g, "$1_$2")
    .toLowerCase();
}

/**
 * Names unnamed layers like Keras (`conv2d`, `conv2d_1`, ...) and checks
 * that names are unique. Exported so that a model file can be checked
 * against the names the model will have before it is built; naming twice
 * changes nothing.
 */
export function nameLayers(layers: readonly Layer[]): void {
  const counts = new Map<string, number>();
  const names = new Set<string>();
  for (const layer of layers) {
    if (layer.name === "") {
      const base = snakeCase(layer.className);
      const n = counts.get(base) ?? 0;
      counts.set(base, n + 1);
      layer.name = n === 0 ? base : `${base}_${n}`;
    }
    if (names.has(layer.name)) {
      throw new Error(
        `two layers are named '${layer.name}'; names must be unique`,
      );
    }
    names.add(layer.name);
  }
}

function count(weights: readonly NamedWeight[]): number {
  return weights.reduce((n, w) => n + w.variable.size, 0);
}

/** A stack of layers applied in order. */
export class Sequential {
  readonly name: string;
  readonly inputShape: number[];
  #layers: Layer[];
  #outputShapes: number[][];

  /**
   * Names unnamed layers like Keras (`conv2d`, `conv2d_1`, ...) and builds
   * their weights in layer order from one initialiser.
   */
  constructor(layers: Layer[], options: SequentialOptions) {
    if (layers.length === 0) {
      throw new Error("Sequential needs at least one layer");
    }
    const { inputShape } = options;
    if (!inputShape.every((d) => Number.isInteger(d) && d >= 1)) {
      throw new RangeError(
        `inputShape must be whole sizes >= 1 such as [32, 32, 3], got [${inputShape}]`,
      );
    }
    this.name = options.name ?? "sequential";
    this.inputShape = [...inputShape];
    const init = options.init ?? glorotUniform(createRng(options.seed ?? 0));
    nameLayers(layers);
    const shapes: number[][] = [];
    let shape: number[] = this.inputShape;
    for (const layer of layers) {
      shape = layer.build(shape, init);
      shapes.push(shape);
    }
    this.#layers = layers;
    this.#outputShapes = shapes;
  }

  /** The layers, in order. */
  get layers(): readonly Layer[] {
    return this.#layers;
  }

  /** Output shape of each layer, without the batch axis. */
  get outputShapes(): readonly number[][] {
    return this.#outputShapes;
  }

  /**
   * Puts `layer` in place of the layer at `index`, built on that place's
   * input shape with `init`; the old layer's weights are freed. Its output
   * shape must be the old one's unless it is the last layer (a new head may
   * have another number of classes). An unnamed layer gets a Keras name.
   */
  replaceLayer(index: number, layer: Layer, init: Initializer): void {
    const old = this.#layers[index];
    if (!Number.isInteger(index) || old === undefined) {
      throw new RangeError(
        `no layer at index ${index}; the model has ${this.#layers.length}`,
      );
    }
    const others = this.#layers.filter((l) => l !== old);
    nameLayers([...others, layer]);
    const input = index === 0
      ? this.inputShape
      : this.#outputShapes[index - 1]!;
    const shape = layer.build(input, init);
    const last = index === this.#layers.length - 1;
    if (!last && shape.join() !== this.#outputShapes[index]!.join()) {
      for (const w of layer.weights) w.variable.dispose();
      throw new Error(
        `${layer.name} outputs [${shape}] where '${old.name}' output ` +
          `[${
            this.#outputShapes[index]
          }]; only the last layer may change shape`,
      );
    }
    for (const w of old.weights) w.variable.dispose();
    this.#layers[index] = layer;
    this.#outputShapes[index] = shape;
  }

  /** Output shape without the batch axis. */
  get outputShape(): number[] {
    return [...(this.outputShapes[this.outputShapes.length - 1] ?? [])];
  }

  /** All weights in Keras order. */
  get weights(): NamedWeight[] {
    return this.layers.flatMap((l) => l.weights);
  }

  /** Weights of the trainable layers (Keras' `trainable_weights`), in order. */
  get trainableWeights(): NamedWeight[] {
    return this.layers.filter((l) => l.trainable).flatMap((l) =>
      l.weights.filter((w) => w.trainable !== false)
    );
  }

  /**
   * Weights of the frozen layers and non-trainable state such as moving
   * statistics (Keras' `non_trainable_weights`), in order.
   */
  get nonTrainableWeights(): NamedWeight[] {
    return this.layers.flatMap((l) =>
      l.trainable ? l.weights.filter((w) => w.trainable === false) : l.weights
    );
  }

  /** The variables the optimizer updates: those of the trainable layers. */
  get trainableVariables(): tf.Variable[] {
    return this.trainableWeights.map((w) => w.variable);
  }

  /**
   * How many leading layers hold no trainable weight: their output does not
   * depend on anything being trained, so a training step can run them
   * without recording gradients.
   */
  get frozenPrefix(): number {
    const i = this.layers.findIndex((l) =>
      l.trainable && l.weights.some((w) => w.trainable !== false)
    );
    return i < 0 ? this.layers.length : i;
  }

  /** Number of scalars in all weights. */
  countParams(): number {
    return count(this.weights);
  }

  #checkInput(x: tf.Tensor): void {
    const want = this.inputShape;
    if (
      x.rank !== want.length + 1 || !want.every((d, i) => x.shape[i + 1] === d)
    ) {
      throw new Error(
        `${this.name} expects inputs of shape [batch, ${want.join(", ")}], ` +
          `got [${x.shape.join(", ")}]`,
      );
    }
  }

  /**
   * Runs the model on a batch `x` (NHWC float32 in [0, 1] for images). With
   * `ctx.logits` the final softmax is skipped. Intermediates are freed.
   */
  apply(x: tf.Tensor, ctx: ApplyContext = { training: false }): tf.Tensor {
    this.#checkInput(x);
    return this.applyLayers(x, 0, this.layers.length, ctx);
  }

  /**
   * Runs layers `start` to `end - 1` on `h`, the output of layer
   * `start - 1` (or the input): a training step runs the frozen prefix
   * outside the gradient tape and the rest inside it.
   */
  applyLayers(
    h: tf.Tensor,
    start: number,
    end: number,
    ctx: ApplyContext,
  ): tf.Tensor {
    return tf.tidy(() =>
      this.layers.slice(start, end).reduce((y, layer) => layer.apply(y, ctx), h)
    );
  }

  /**
   * Runs the model in inference mode and returns the outputs of the layers
   * chosen by `select` (default: every layer whose name contains `conv`, as
   * the seed notebook picks its feature-map layers). The caller disposes them.
   */
  activations(
    x: tf.Tensor,
    select: (layer: Layer) => boolean = (l) =>
      l.name.toLowerCase().includes("conv"),
  ): LayerOutput[] {
    this.#checkInput(x);
    const picked: LayerOutput[] = [];
    tf.tidy(() => {
      let h = x;
      for (const layer of this.layers) {
        h = layer.apply(h, { training: false });
        if (select(layer)) {
          picked.push({
            name: layer.name,
            className: layer.className,
            output: tf.keep(h),
          });
        }
      }
    });
    return picked;
  }

  /**
   * Class probabilities for `x`, computed `batchSize` images at a time so
   * that activations never exceed one batch's worth.
   */
  predict(x: tf.Tensor, batchSize = 32): tf.Tensor {
    this.#checkInput(x);
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(
        `batchSize must be a whole number >= 1, got ${batchSize}`,
      );
    }
    const n = x.shape[0] ?? 0;
    // One batch: no slice, which would copy the whole input.
    if (n > 0 && n <= batchSize) return tf.tidy(() => this.apply(x));
    const parts: tf.Tensor[] = [];
    for (let start = 0; start < n; start += batchSize) {
      const size = Math.min(batchSize, n - start);
      parts.push(tf.tidy(() => {
        const begin = x.shape.map((_, i) => (i === 0 ? start : 0));
        const sizes = x.shape.map((d, i) => (i === 0 ? size : d));
        return this.apply(tf.slice(x, begin, sizes));
      }));
    }
    if (parts.length === 0) return tf.zeros([0, ...this.outputShape]);
    const out = parts.length === 1 ? parts[0]! : tf.concat(parts, 0);
    if (parts.length > 1) tf.dispose(parts);
    return out;
  }

  /** Copies every weight's values off the backend. */
  async getWeights(): Promise<WeightValues[]> {
    return await Promise.all(this.weights.map(async (w) => ({
      name: w.name,
      shape: [...w.variable.shape],
      values: (await w.variable.data()) as Float32Array,
    })));
  }

  /** Sets weights by Keras name; every weight must be given, with its shape. */
  setWeights(values: readonly WeightValues[]): void {
    const byName = new Map(values.map((v) => [v.name, v]));
    for (const w of this.weights) {
      const v = byName.get(w.name);
      if (!v) throw new Error(`no value given for weight '${w.name}'`);
      const want = w.variable.shape;
      if (v.values.length !== sizeOf(want) || v.shape.join() !== want.join()) {
        throw new Error(
          `weight '${w.name}' has shape [${want}], got [${v.shape}] with ${v.values.length} values`,
        );
      }
    }
    for (const w of this.weights) {
      const v = byName.get(w.name)!;
      tf.tidy(() => w.variable.assign(tf.tensor(v.values, w.variable.shape)));
    }
  }

  /** Keras 2's `model.summary()` text (lines joined by `\n`), also printed by `print`. */
  summary(print: ((line: string) => void) | null = console.log): string {
    const rows = this.layers.map((layer, i) => ({
      name: layer.name,
      className: layer.className,
      outputShape: formatShape(this.outputShapes[i] ?? []),
      params: layer.weights.reduce((n, w) => n + w.variable.size, 0),
    }));
    const trainable = count(this.trainableWeights);
    const lines = summaryLines(
      this.name,
      rows,
      trainable,
      this.countParams() - trainable,
    );
    if (print) lines.forEach((line) => print(line));
    return lines.join("\n");
  }

  /** Frees the weights. */
  dispose(): void {
    for (const w of this.weights) w.variable.dispose();
  }
}
