/**
 * Reading the Keras topology of a TF.js Layers `model.json` into simdnet
 * layers: `Sequential` here, functional ("Functional" or "Model") in
 * `functional_topology.ts`. Accepts what simdnet and tfjs-layers save and what
 * the tensorflowjs converter writes for Keras 2 and Keras 3 models (the
 * topology wrapped in `model_config`, an `InputLayer` with
 * `batch_input_shape` or `batch_shape`, or the old list-only config).
 *
 * @module
 */

import { describe, isDict, ModelFormatError } from "./config_values.ts";
import {
  inputShapeOf,
  parseFunctional,
  trainableOf,
} from "./functional_topology.ts";
import { isMergeLayer, type Layer } from "./layer.ts";
import { layerFromConfig } from "./layer_config.ts";
import type { GraphNode } from "./model.ts";

export { describe, ModelFormatError } from "./config_values.ts";

/** A Sequential topology: its layers in order. */
export interface ParsedSequential {
  kind: "Sequential";
  name: string;
  /** Input shape without the batch axis, e.g. `[32, 32, 3]`. */
  inputShape: number[];
  layers: Layer[];
}

/** A functional topology: its input and layer graph in Keras' order. */
export interface ParsedFunctional {
  kind: "Functional";
  name: string;
  /** Input shape without the batch axis, e.g. `[32, 32, 3]`. */
  inputShape: number[];
  /** Name of the InputLayer. */
  inputName: string;
  /** The layers with their inputs (-1: the model input), input side first. */
  nodes: GraphNode[];
}

/** The parts of a topology simdnet needs to rebuild the model. */
export type ParsedTopology = ParsedSequential | ParsedFunctional;

/** The topology's layers and their inputs, as a graph either way. */
export function topologyNodes(t: ParsedTopology): GraphNode[] {
  return t.kind === "Functional"
    ? t.nodes
    : t.layers.map((layer, i) => ({ layer, inputs: [i - 1] }));
}

/**
 * Reads a `modelTopology` (the object, not the whole `model.json`) into
 * simdnet layers. Throws a {@linkcode ModelFormatError} naming the layer and
 * setting that simdnet cannot run.
 */
export function parseTopology(topology: unknown): ParsedTopology {
  // The tensorflowjs converter nests the Keras config under `model_config`.
  const model = isDict(topology) && isDict(topology.model_config)
    ? topology.model_config
    : topology;
  if (
    isDict(model) &&
    (model.class_name === "Functional" || model.class_name === "Model")
  ) {
    return { kind: "Functional", ...parseFunctional(model.config) };
  }
  if (!isDict(model) || model.class_name !== "Sequential") {
    const kind = isDict(model) ? describe(model.class_name) : "nothing";
    throw new ModelFormatError(
      `the topology is ${kind}, not a Keras Sequential or functional model; ` +
        `simdnet loads models saved by simdnet, tfjs-layers or tensorflowjs_converter`,
    );
  }
  const config = model.config;
  // Keras before 2.2.3 wrote the layer list itself as the config.
  const specs = Array.isArray(config)
    ? config
    : isDict(config) && Array.isArray(config.layers)
    ? config.layers
    : null;
  if (specs === null || specs.length === 0) {
    throw new ModelFormatError("the topology lists no layers");
  }
  const name = isDict(config) && typeof config.name === "string"
    ? config.name
    : "sequential";
  let rest: unknown[] = specs;
  let inputShape: number[] | null = null;
  const first = specs[0];
  if (isDict(first) && first.class_name === "InputLayer") {
    inputShape = inputShapeOf(isDict(first.config) ? first.config : undefined);
    rest = specs.slice(1);
  } else if (isDict(first) && isDict(first.config)) {
    inputShape = inputShapeOf(first.config);
  }
  if (inputShape === null) {
    throw new ModelFormatError(
      "the topology lacks the input shape (batch_input_shape or an InputLayer " +
        "with batch_shape); build the model with an input shape before saving",
    );
  }
  const layers = rest.map((spec, i) => {
    if (
      !isDict(spec) || typeof spec.class_name !== "string" ||
      !isDict(spec.config)
    ) {
      throw new ModelFormatError(
        `layer ${i} of the topology has no class_name and config`,
      );
    }
    const layer = layerFromConfig(spec.class_name, spec.config);
    if (isMergeLayer(layer)) {
      throw new ModelFormatError(
        `layer '${layer.name}' (${layer.className}) merges several inputs, ` +
          `which a Sequential model cannot give it; save the model as a ` +
          `functional one`,
      );
    }
    layer.trainable = trainableOf(spec.config, layer.name);
    return layer;
  });
  return { kind: "Sequential", name, inputShape, layers };
}
