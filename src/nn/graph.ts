/**
 * Building functional models in code, Keras-style: an {@linkcode Input}
 * symbol, {@linkcode connect} to apply a layer to symbols, then
 * `new Model({ inputs, outputs })`. Also the one ordering of graph nodes
 * (Keras' and tfjs-layers': by depth from the output, ties by discovery
 * order), shared by models built in code and models read from files so
 * that both list their layers, and so their weights, the way tfjs-layers
 * does.
 *
 * @module
 */

import type { AnyLayer } from "./layer.ts";

/** One layer of a model and where its inputs come from. */
export interface GraphNode {
  layer: AnyLayer;
  /** Indices of the nodes whose outputs it takes; -1 is the model input. */
  inputs: number[];
}

/** Options of {@linkcode Input}. */
export interface InputOptions {
  /** Shape without the batch axis, e.g. `[32, 32, 3]`. */
  shape: number[];
  /** Name of the input layer; default `input_1`. */
  name?: string;
}

/**
 * A placeholder for a tensor in a graph being built: the model input, or
 * the output of a layer applied to other symbols.
 */
export class SymbolicTensor {
  /** The layer that produces it, or null for the model input. */
  readonly layer: AnyLayer | null;
  /** The symbols the layer was applied to, in order. */
  readonly inputs: readonly SymbolicTensor[];
  /** The input's name and shape, for the model input only. */
  readonly input: { name: string; shape: number[] } | null;

  /** Use {@linkcode Input} and {@linkcode connect} rather than this. */
  constructor(
    layer: AnyLayer | null,
    inputs: readonly SymbolicTensor[],
    input: { name: string; shape: number[] } | null,
  ) {
    this.layer = layer;
    this.inputs = inputs;
    this.input = input;
  }
}

/** Keras' `Input(shape=...)`: the symbol a functional model starts from. */
export function Input(options: InputOptions): SymbolicTensor {
  const { shape } = options;
  if (!shape.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new RangeError(
      `Input shape must be whole sizes >= 1 such as [32, 32, 3], got [${shape}]`,
    );
  }
  return new SymbolicTensor(null, [], {
    name: options.name ?? "input_1",
    shape: [...shape],
  });
}

// Layers already placed in a graph: Keras lets a layer be called twice and
// share its weights; simdnet does not, so a second call is an error rather
// than a silent copy.
const connected = new WeakSet<AnyLayer>();

function kind(layer: AnyLayer): string {
  return `layer ${layer.name ? `'${layer.name}' ` : ""}(${layer.className})`;
}

/**
 * Applies `layer` to a symbol (a merge layer such as `Add` to a list of
 * symbols), like Keras' `layer(x)`, and returns the symbol of its output.
 * Each layer can be connected once: shared layers are not supported.
 */
export function connect(
  layer: AnyLayer,
  x: SymbolicTensor | readonly SymbolicTensor[],
): SymbolicTensor {
  if (connected.has(layer)) {
    throw new Error(
      `${kind(layer)} is already connected; simdnet does not support ` +
        `shared layers, so create one layer for each use`,
    );
  }
  const merge = "merge" in layer && layer.merge === true;
  const inputs = Array.isArray(x) ? [...x] : [x as SymbolicTensor];
  if (merge !== Array.isArray(x)) {
    throw new Error(
      merge
        ? `${kind(layer)} merges several inputs; pass it a list of symbols`
        : `${kind(layer)} takes one input; pass it one symbol, not a list`,
    );
  }
  if (!inputs.every((s) => s instanceof SymbolicTensor)) {
    throw new TypeError(
      `${kind(layer)} must be connected to symbols from Input or connect`,
    );
  }
  connected.add(layer);
  return new SymbolicTensor(layer, inputs, null);
}

/** A cycle was found through `key` while ordering a graph. */
export class GraphCycleError<K> extends Error {
  /** Creates the error for the node where the cycle closed. */
  constructor(readonly key: K) {
    super("the graph has a cycle");
    this.name = "GraphCycleError";
  }
}

/**
 * Orders the nodes a graph's output depends on as Keras and tfjs-layers
 * order a model's layers: by depth (the longest path to the output)
 * decreasing, ties by the order a depth-first walk from the output first
 * reaches them, so the input comes first and the output last. Throws
 * {@linkcode GraphCycleError} on a cycle.
 */
export function orderByDepth<K>(
  output: K,
  inputsOf: (k: K) => readonly K[],
): K[] {
  const discovered = new Map<K, number>();
  const state = new Map<K, "open" | "done">();
  const postorder: K[] = [];
  // An explicit stack: a hostile file may chain thousands of layers.
  const stack: { key: K; next: number }[] = [{ key: output, next: 0 }];
  state.set(output, "open");
  discovered.set(output, 0);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const inputs = inputsOf(top.key);
    if (top.next < inputs.length) {
      const k = inputs[top.next++]!;
      const s = state.get(k);
      if (s === "open") throw new GraphCycleError(k);
      if (s === "done") continue;
      if (!discovered.has(k)) discovered.set(k, discovered.size);
      state.set(k, "open");
      stack.push({ key: k, next: 0 });
    } else {
      state.set(top.key, "done");
      postorder.push(top.key);
      stack.pop();
    }
  }
  // Reversed postorder visits consumers before producers, so each depth
  // is final when it is propagated to the node's inputs.
  const depth = new Map<K, number>();
  for (const k of postorder.reverse()) {
    const d = depth.get(k) ?? 0;
    depth.set(k, d);
    for (const i of inputsOf(k)) {
      depth.set(i, Math.max(depth.get(i) ?? 0, d + 1));
    }
  }
  return [...postorder].sort((a, b) =>
    depth.get(b)! - depth.get(a)! || discovered.get(a)! - discovered.get(b)!
  );
}

/** The one symbol of `x` (a list of one is accepted); `what` names it in the error. */
export function one(
  x: SymbolicTensor | readonly SymbolicTensor[],
  what: string,
): SymbolicTensor {
  const list = Array.isArray(x) ? x : [x as SymbolicTensor];
  if (list.length !== 1) {
    throw new Error(
      `a simdnet model has one ${what}, got ${list.length}; build one ` +
        `model per ${what} or merge them with Concatenate`,
    );
  }
  return list[0]!;
}

/**
 * The layers from `inputs` to `outputs` in Keras' order, each with the
 * indices of the nodes it reads (-1: the input); one input only.
 */
export function graphOf(
  inputs: SymbolicTensor,
  outputs: SymbolicTensor,
): GraphNode[] {
  if (inputs.input === null) {
    throw new Error("a model's inputs must be the symbol Input returned");
  }
  const order = orderByDepth(outputs, (s) => s.inputs);
  const foreign = order.find((s) => s.layer === null && s !== inputs);
  if (foreign !== undefined) {
    throw new Error(
      `the output depends on input '${foreign.input!.name}', which is not ` +
        `the model's input; a simdnet model has one input`,
    );
  }
  if (order[0] !== inputs) {
    throw new Error(
      `the output does not depend on the model's input '${inputs.input.name}'`,
    );
  }
  const index = new Map(order.map((s, i) => [s, i - 1]));
  return order.slice(1).map((s) => ({
    layer: s.layer!,
    inputs: s.inputs.map((i) => index.get(i)!),
  }));
}
