/**
 * Reading a Keras functional topology (`class_name` "Functional" or
 * "Model") into simdnet layers and the graph between them. Accepts the
 * `inbound_nodes` of tfjs-layers and Keras 2 (`[[["name", 0, 0, {}], ...]]`)
 * and of Keras 3 (`[{"args": [keras tensor or list of them], "kwargs": {}}]`,
 * each tensor naming its layer in `config.keras_history`), and
 * `input_layers` / `output_layers` as a list of `[name, 0, 0]` or Keras 3's
 * single `[name, 0, 0]`. Every way a graph can be wrong (an unknown or
 * missing inbound layer, a cycle, a shared layer, several inputs or
 * outputs, a layer the output does not need) is one
 * {@linkcode ModelFormatError} naming the layer.
 *
 * @module
 */

import {
  describe,
  type Dict,
  isDict,
  ModelFormatError,
} from "./config_values.ts";
import { GraphCycleError, orderByDepth } from "./graph.ts";
import { type AnyLayer, isMergeLayer } from "./layer.ts";
import { layerFromConfig } from "./layer_config.ts";
import type { GraphNode } from "./model.ts";

/** A functional topology's input, layers and graph, in Keras' order. */
export interface ParsedGraph {
  name: string;
  inputName: string;
  /** Input shape without the batch axis. */
  inputShape: number[];
  /** The layers with their inputs (-1: the model input), input side first. */
  nodes: GraphNode[];
}

/** Keras' `trainable`: absent means true; anything but a boolean is refused. */
export function trainableOf(c: Dict, name: string): boolean {
  if (c.trainable === undefined || c.trainable === null) return true;
  if (typeof c.trainable !== "boolean") {
    throw new ModelFormatError(
      `layer '${name}' has trainable ${
        describe(c.trainable)
      }; it must be true or false`,
    );
  }
  return c.trainable;
}

/** The shape without the batch axis of an InputLayer config, or null. */
export function inputShapeOf(config: Dict | undefined): number[] | null {
  const shape = config?.batch_input_shape ?? config?.batch_shape;
  if (!Array.isArray(shape) || shape.length < 2) return null;
  const dims = shape.slice(1);
  return dims.every((d) => Number.isInteger(d) && d >= 1)
    ? dims as number[]
    : null;
}

interface Entry {
  name: string;
  className: string;
  where: string;
  spec: Dict;
}

// `[name, nodeIndex, tensorIndex, ...]` of Keras 2 and `keras_history`:
// simdnet layers have one node (no sharing) and one output tensor.
function reference(v: unknown, where: string): string {
  if (
    !Array.isArray(v) || typeof v[0] !== "string" ||
    (v[1] ?? 0) !== 0 || (v[2] ?? 0) !== 0
  ) {
    throw new ModelFormatError(
      `${where} refers to ${describe(v)}; expected ["layer", 0, 0]`,
    );
  }
  return v[0];
}

// Keras 3 call arguments: a tensor, or a list of tensors for merge layers.
function kerasTensors(args: unknown, where: string): string[] {
  const flat = Array.isArray(args) ? args.flat(2) : [args];
  return flat.map((t) => {
    const history = isDict(t) && isDict(t.config)
      ? t.config.keras_history
      : undefined;
    if (!isDict(t) || t.class_name !== "__keras_tensor__" || !history) {
      throw new ModelFormatError(
        `${where} has an inbound argument ${describe(t)} that is not a ` +
          `Keras tensor with keras_history`,
      );
    }
    return reference(history, where);
  });
}

/** The names of the layers whose outputs `entry` reads, in order. */
function inboundOf(entry: Entry): string[] {
  const { where, spec } = entry;
  const nodes = spec.inbound_nodes;
  if (!Array.isArray(nodes) || nodes.length === 0) {
    throw new ModelFormatError(
      `${where} has no inbound_nodes; it is not connected to any input`,
    );
  }
  if (nodes.length > 1) {
    throw new ModelFormatError(
      `${where} is called ${nodes.length} times (a shared layer), which ` +
        `simdnet does not support; give each use its own layer`,
    );
  }
  const node = nodes[0];
  if (isDict(node)) return kerasTensors(node.args, where);
  if (!Array.isArray(node) || node.length === 0) {
    throw new ModelFormatError(
      `${where} has inbound node ${describe(node)}; expected a list of ` +
        `["layer", 0, 0, {}] or {"args": [...]}`,
    );
  }
  return node.map((r) => reference(r, where));
}

// `[["input_1", 0, 0]]`, or Keras 3's `["input_layer", 0, 0]` for one.
function endpoint(v: unknown, what: string): string {
  const list = Array.isArray(v) && typeof v[0] === "string" ? [v] : v;
  if (!Array.isArray(list) || list.length !== 1) {
    const n = Array.isArray(list) ? `${list.length}` : describe(v);
    throw new ModelFormatError(
      `the model has ${n} ${what}; simdnet models have one input and one output`,
    );
  }
  return reference(list[0], `${what} entry`);
}

function entriesOf(specs: readonly unknown[]): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  specs.forEach((spec, i) => {
    if (
      !isDict(spec) || typeof spec.class_name !== "string" ||
      !isDict(spec.config)
    ) {
      throw new ModelFormatError(
        `layer ${i} of the topology has no class_name and config`,
      );
    }
    const name = spec.name ?? spec.config.name;
    if (typeof name !== "string" || name === "" || name.length > 256) {
      throw new ModelFormatError(
        `layer ${i} (${spec.class_name.slice(0, 60)}) has name ${
          describe(name)
        }; a layer name must be a string of 1 to 256 characters`,
      );
    }
    if (entries.has(name)) {
      throw new ModelFormatError(
        `two layers are named '${name}'; names must be unique`,
      );
    }
    const where = `layer '${name}' (${spec.class_name.slice(0, 60)})`;
    entries.set(name, { name, className: spec.class_name, where, spec });
  });
  return entries;
}

/** The layer order from the input to `output`; throws on a cycle. */
function order(
  output: string,
  inbound: Map<string, string[]>,
  entries: Map<string, Entry>,
): string[] {
  try {
    return orderByDepth(output, (n) => inbound.get(n) ?? []);
  } catch (error) {
    if (!(error instanceof GraphCycleError)) throw error;
    throw new ModelFormatError(
      `${entries.get(error.key)!.where} is part of a cycle in the graph; ` +
        `a model's layers must form a graph without cycles`,
    );
  }
}

/**
 * Reads a functional model's `config` into its input and ordered layers.
 * Throws a {@linkcode ModelFormatError} naming the layer at fault.
 */
export function parseFunctional(config: unknown): ParsedGraph {
  if (!isDict(config) || !Array.isArray(config.layers)) {
    throw new ModelFormatError("the functional topology lists no layers");
  }
  const entries = entriesOf(config.layers);
  const inputs = [...entries.values()].filter((e) =>
    e.className === "InputLayer"
  );
  if (inputs.length !== 1) {
    throw new ModelFormatError(
      `the model has ${inputs.length} InputLayers; simdnet models have one input`,
    );
  }
  const input = inputs[0]!;
  const inputShape = inputShapeOf(input.spec.config as Dict);
  if (inputShape === null) {
    throw new ModelFormatError(
      `${input.where} has no whole input shape in batch_input_shape or batch_shape`,
    );
  }
  const inbound = new Map<string, string[]>();
  for (const e of entries.values()) {
    if (e === input) continue;
    const from = inboundOf(e);
    const unknown = from.find((n) => !entries.has(n));
    if (unknown !== undefined) {
      throw new ModelFormatError(
        `${e.where} reads '${
          unknown.slice(0, 256)
        }', which is not a layer of the model`,
      );
    }
    inbound.set(e.name, from);
  }
  if (endpoint(config.input_layers, "input_layers") !== input.name) {
    throw new ModelFormatError(
      `input_layers does not name the InputLayer '${input.name}'`,
    );
  }
  const outName = endpoint(config.output_layers, "output_layers");
  const out = entries.get(outName);
  if (out === undefined || out === input) {
    throw new ModelFormatError(
      `the output '${outName.slice(0, 256)}' is not a layer of the model; ` +
        `output_layers must name a layer after the input`,
    );
  }
  const names = order(outName, inbound, entries);
  const unused = [...entries.keys()].find((n) => !names.includes(n));
  if (unused !== undefined) {
    throw new ModelFormatError(
      `${entries.get(unused)!.where} does not lead to the output ` +
        `'${outName}'; remove it or connect it`,
    );
  }
  return {
    name: typeof config.name === "string" ? config.name : "model",
    inputName: input.name,
    inputShape,
    nodes: buildNodes(names.slice(1), entries, inbound, input.name),
  };
}

function buildNodes(
  names: readonly string[],
  entries: Map<string, Entry>,
  inbound: Map<string, string[]>,
  inputName: string,
): GraphNode[] {
  const index = new Map(names.map((n, i) => [n, i]));
  index.set(inputName, -1);
  return names.map((name) => {
    const e = entries.get(name)!;
    const config = { ...(e.spec.config as Dict), name };
    const layer: AnyLayer = layerFromConfig(e.className, config);
    layer.trainable = trainableOf(config, name);
    const from = inbound.get(name)!;
    if (!isMergeLayer(layer) && from.length !== 1) {
      throw new ModelFormatError(
        `${e.where} takes one input, but the file connects ${from.length}`,
      );
    }
    return { layer, inputs: from.map((n) => index.get(n)!) };
  });
}
