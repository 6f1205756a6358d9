/**
 * simdnet's model engine: a graph of layers in Keras' functional semantics
 * (Keras' `Model`, saved as tfjs-layers' `Model` class), with one input and
 * one output. {@linkcode Sequential} is its chain case.
 *
 * @example
 * ```ts
 * import "@tensorflow/tfjs-backend-cpu";
 * import * as tf from "@tensorflow/tfjs-core";
 * import { Conv2D } from "./conv2d.ts";
 * import { Dense } from "./dense.ts";
 * import { Flatten } from "./flatten.ts";
 * import { connect, Input } from "./graph.ts";
 * import { Add } from "./merge_layers.ts";
 * import { Model } from "./model.ts";
 *
 * await tf.setBackend("cpu");
 * const x = Input({ shape: [8, 8, 4] });
 * const h = connect(new Conv2D({ filters: 4, kernelSize: 3, padding: "same", activation: "relu" }), x);
 * const r = connect(new Add(), [x, h]); // the residual connection
 * const y = connect(new Dense({ units: 3, activation: "softmax" }), connect(new Flatten(), r));
 * const model = new Model({ inputs: x, outputs: y, seed: 1 });
 * const p = model.predict(tf.ones([2, 8, 8, 4]));
 * if (p.shape.join() !== "2,3") throw new Error(`shape ${p.shape}`);
 * model.summary(); // ... add (Add)  (None, 8, 8, 4)  0  input_1[0][0] / conv2d[0][0]
 * tf.dispose(p);
 * model.dispose();
 * ```
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "../util/random.ts";
import { type GraphNode, graphOf, one, type SymbolicTensor } from "./graph.ts";
import { glorotUniform } from "./initializers.ts";
import {
  type AnyLayer,
  type ApplyContext,
  type Initializer,
  isMergeLayer,
  type Layer,
  type NamedWeight,
} from "./layer.ts";
import { nameLayers } from "./layer_names.ts";
import { predictInBatches } from "./predict_batches.ts";
import { graphSummaryLines } from "./summary.ts";
import {
  assignWeightValues,
  readWeightValues,
  type WeightValues,
} from "./weight_values.ts";

export type { GraphNode } from "./graph.ts";

/** Options of {@linkcode Model}. */
export interface ModelOptions {
  /** The model's input, from `Input` (a list of one is accepted). */
  inputs: SymbolicTensor | readonly SymbolicTensor[];
  /** The model's output, from `connect` (a list of one is accepted). */
  outputs: SymbolicTensor | readonly SymbolicTensor[];
  /** Model name; default `model`. */
  name?: string;
  /** Seed of the kernel initialiser; default 0. Ignored when `init` is given. */
  seed?: number;
  /** Kernel initialiser; default Glorot uniform from `seed`. */
  init?: Initializer;
}

/** A layer's output, from {@linkcode Model.activations}. */
export interface LayerOutput {
  name: string;
  className: string;
  output: tf.Tensor;
}

export type { WeightValues } from "./weight_values.ts";

function count(weights: readonly NamedWeight[]): number {
  return weights.reduce((n, w) => n + w.variable.size, 0);
}

/** A graph of layers from one input to one output (Keras' functional `Model`). */
export class Model {
  readonly name: string;
  readonly inputShape: number[];
  /** Name of the input layer (`input_1`), as saved in `model.json`. */
  readonly inputName: string;
  #nodes: GraphNode[];
  #outputShapes: number[][];
  // For each node, the last node that reads its output (the output itself:
  // its own index), so a forward pass frees each intermediate after use.
  #lastUse: number[];

  /**
   * Orders the graph from `inputs` to `outputs` like Keras, names unnamed
   * layers like Keras (`conv2d`, `conv2d_1`, ...) in that order, and builds
   * their weights in that order from one initialiser.
   */
  constructor(options: ModelOptions) {
    const input = one(options.inputs, "input");
    const nodes = graphOf(input, one(options.outputs, "output"));
    this.name = options.name ?? "model";
    this.inputShape = [...input.input!.shape];
    this.inputName = input.input!.name;
    const init = options.init ?? glorotUniform(createRng(options.seed ?? 0));
    nameLayers(nodes.map((n) => n.layer), [this.inputName]);
    const shapes: number[][] = [];
    const shapeOf = (i: number) => (i < 0 ? this.inputShape : shapes[i]!);
    try {
      for (const { layer, inputs } of nodes) {
        shapes.push(
          isMergeLayer(layer)
            ? layer.build(inputs.map(shapeOf))
            : layer.build(shapeOf(inputs[0]!), init),
        );
      }
    } catch (error) {
      // The model is never returned, so its caller could not free the
      // weights of the layers built before the one that failed.
      for (const w of nodes.flatMap((n) => n.layer.weights)) {
        w.variable.dispose();
      }
      throw error;
    }
    this.#nodes = nodes;
    this.#outputShapes = shapes;
    this.#lastUse = nodes.map((_, i) => i);
    nodes.forEach((n, j) => n.inputs.forEach((i) => (this.#lastUse[i] = j)));
    this.#lastUse[nodes.length - 1] = Infinity;
  }

  /** The layers, in Keras order (inputs before the layers that read them). */
  get layers(): readonly AnyLayer[] {
    return this.#nodes.map((n) => n.layer);
  }

  /** The layers with where their inputs come from, in order. */
  get nodes(): readonly Readonly<GraphNode>[] {
    return this.#nodes;
  }

  /** Output shape of each layer, without the batch axis. */
  get outputShapes(): readonly number[][] {
    return this.#outputShapes;
  }

  /** Output shape without the batch axis. */
  get outputShape(): number[] {
    return [...(this.#outputShapes[this.#outputShapes.length - 1] ?? [])];
  }

  /** Whether each layer reads the previous one's output only (a chain). */
  get isChain(): boolean {
    return this.#nodes.every((n, i) =>
      n.inputs.length === 1 && n.inputs[0] === i - 1
    );
  }

  /**
   * Puts `layer` in place of the layer at `index`, fed by the same inputs
   * and built on their shape with `init`; the old layer's weights are
   * freed. Its output shape must be the old one's unless it is the output
   * layer (a new head may have another number of classes). An unnamed layer
   * gets a Keras name.
   */
  replaceLayer(index: number, layer: Layer, init: Initializer): void {
    const node = this.#nodes[index];
    if (!Number.isInteger(index) || node === undefined) {
      throw new RangeError(
        `no layer at index ${index}; the model has ${this.#nodes.length}`,
      );
    }
    const old = node.layer;
    if (isMergeLayer(old)) {
      throw new Error(
        `'${old.name}' is a ${old.className} merge layer; only single-input layers can be replaced`,
      );
    }
    const others = this.layers.filter((l) => l !== old);
    nameLayers([...others, layer], [this.inputName]);
    const from = node.inputs[0]!;
    const shape = layer.build(
      from < 0 ? this.inputShape : this.#outputShapes[from]!,
      init,
    );
    const last = index === this.#nodes.length - 1;
    if (!last && shape.join() !== this.#outputShapes[index]!.join()) {
      for (const w of layer.weights) w.variable.dispose();
      throw new Error(
        `${layer.name} outputs [${shape}] where '${old.name}' output ` +
          `[${
            this.#outputShapes[index]
          }]; only the output layer may change shape`,
      );
    }
    for (const w of old.weights) w.variable.dispose();
    this.#nodes[index] = { layer, inputs: node.inputs };
    this.#outputShapes[index] = shape;
  }

  /**
   * All weights in Keras order: the trainable ones, then the non-trainable
   * ones (frozen layers, moving statistics), as Keras' and tfjs-layers'
   * `model.weights`, `get_weights()` and saved manifests list them.
   */
  get weights(): NamedWeight[] {
    return [...this.trainableWeights, ...this.nonTrainableWeights];
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
   * How many leading layers can run before the gradient tape starts: those
   * before the first layer with trainable weights, cut back to the last
   * point where the graph is one tensor wide (no later layer reads an
   * earlier output than the one handed over). A chain's frozen prefix is
   * its leading layers without trainable weights; a graph that branches
   * before its first trainable layer stops at the branch.
   */
  get frozenPrefix(): number {
    const first = this.layers.findIndex((l) =>
      l.trainable && l.weights.some((w) => w.trainable !== false)
    );
    let start = first < 0 ? this.#nodes.length : first;
    while (start > 0 && !this.#canStartAt(start)) start--;
    return start;
  }

  // Whether the nodes from `start` on read nothing older than node
  // `start - 1`, so that its output alone carries the pass on.
  #canStartAt(start: number): boolean {
    if (start === 0) return true;
    return this.#nodes.slice(start).every((n) =>
      n.inputs.every((i) => i >= start - 1)
    );
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
    return this.applyLayers(x, 0, this.#nodes.length, ctx);
  }

  /**
   * Runs layers `start` to `end - 1` on `h`, the output of layer
   * `start - 1` (or the input) and returns the output of layer `end - 1`:
   * a training step runs the frozen prefix outside the gradient tape and
   * the rest inside it. `start` must be 0 or a point where the graph is one
   * tensor wide (see {@linkcode frozenPrefix}).
   */
  applyLayers(
    h: tf.Tensor,
    start: number,
    end: number,
    ctx: ApplyContext,
  ): tf.Tensor {
    if (!this.#canStartAt(start)) {
      throw new RangeError(
        `cannot start a pass at layer ${start}: a later layer reads an ` +
          `earlier output; start at frozenPrefix or 0`,
      );
    }
    return tf.tidy(() => this.#run(h, start, end, ctx, null));
  }

  // Runs nodes start..end-1 and returns the last one's output (or `h`).
  // Each intermediate is freed after its last reader: peak memory is the
  // widest cut of the graph, not the sum of all outputs.
  #run(
    h: tf.Tensor,
    start: number,
    end: number,
    ctx: ApplyContext,
    keep: ((layer: AnyLayer, y: tf.Tensor) => void) | null,
  ): tf.Tensor {
    const values = new Map<number, tf.Tensor>([[start - 1, h]]);
    // Only the output layer skips its softmax for `ctx.logits`: a softmax
    // inside the network (an attention-like gate) is part of the function.
    const last = this.#nodes.length - 1;
    const inner = ctx.logits ? { ...ctx, logits: false } : ctx;
    let y = h;
    for (let j = start; j < end; j++) {
      const { layer, inputs } = this.#nodes[j]!;
      const xs = inputs.map((i) => values.get(i)!);
      const c = j === last ? ctx : inner;
      y = isMergeLayer(layer) ? layer.apply(xs, c) : layer.apply(xs[0]!, c);
      values.set(j, y);
      keep?.(layer, y);
      if (!keep) this.#free(values, inputs, j, h);
    }
    return y;
  }

  // Frees the inputs node `j` read last. A layer may return its input
  // itself (dropout at inference), so a tensor still held under another
  // index, and the caller's `h`, are never freed here.
  #free(
    values: Map<number, tf.Tensor>,
    inputs: readonly number[],
    j: number,
    h: tf.Tensor,
  ): void {
    for (const i of new Set(inputs)) {
      if (this.#lastUse[i] !== j) continue;
      const t = values.get(i)!;
      values.delete(i);
      const held = t === h || [...values.values()].includes(t);
      if (!held) t.dispose();
    }
  }

  /**
   * Runs the model in inference mode and returns the outputs of the layers
   * chosen by `select` (default: every layer whose name contains `conv`, as
   * the seed notebook picks its feature-map layers). The caller disposes them.
   */
  activations(
    x: tf.Tensor,
    select: (layer: AnyLayer) => boolean = (l) =>
      l.name.toLowerCase().includes("conv"),
  ): LayerOutput[] {
    this.#checkInput(x);
    const picked: LayerOutput[] = [];
    tf.tidy(() => {
      this.#run(x, 0, this.#nodes.length, { training: false }, (layer, y) => {
        if (select(layer)) {
          picked.push({
            name: layer.name,
            className: layer.className,
            output: tf.keep(y),
          });
        }
      });
    });
    return picked;
  }

  /**
   * Class probabilities for `x`, computed `batchSize` images at a time so
   * that activations never exceed one batch's worth.
   */
  predict(x: tf.Tensor, batchSize = 32): tf.Tensor {
    this.#checkInput(x);
    return predictInBatches(
      (b) => this.apply(b),
      x,
      batchSize,
      this.outputShape,
    );
  }

  /** Copies every weight's values off the backend. */
  async getWeights(): Promise<WeightValues[]> {
    return await readWeightValues(this.weights);
  }

  /** Sets weights by Keras name; every weight must be given, with its shape. */
  setWeights(values: readonly WeightValues[]): void {
    assignWeightValues(this.weights, values);
  }

  /**
   * Keras 2's `model.summary()` text (lines joined by `\n`), also printed
   * by `print`: the functional layout with its "Connected to" column, or
   * the sequential one for a chain, as Keras picks.
   */
  summary(print: ((line: string) => void) | null = console.log): string {
    const trainable = count(this.trainableWeights);
    const nonTrainable = this.countParams() - trainable;
    const lines = graphSummaryLines(
      {
        name: this.name,
        inputName: this.inputName,
        inputShape: this.inputShape,
        nodes: this.#nodes,
        outputShapes: this.#outputShapes,
        chain: this.isChain,
      },
      trainable,
      nonTrainable,
    );
    if (print) lines.forEach((line) => print(line));
    return lines.join("\n");
  }

  /** Frees the weights. */
  dispose(): void {
    for (const w of this.weights) w.variable.dispose();
  }
}
