/**
 * Reading the Keras `Sequential` topology of a TF.js Layers `model.json`
 * into simdnet layers. Accepts what simdnet and tfjs-layers save and what
 * the tensorflowjs converter writes for Keras 2 and Keras 3 models (the
 * topology wrapped in `model_config`, an `InputLayer` with
 * `batch_input_shape` or `batch_shape`, or the old list-only config).
 *
 * @module
 */

import {
  describe,
  type Dict,
  isDict,
  ModelFormatError,
} from "./config_values.ts";
import { isMergeLayer, type Layer } from "./layer.ts";
import { layerFromConfig } from "./layer_config.ts";

export { describe, ModelFormatError } from "./config_values.ts";

/** The parts of a topology simdnet needs to rebuild the model. */
export interface ParsedTopology {
  name: string;
  /** Input shape without the batch axis, e.g. `[32, 32, 3]`. */
  inputShape: number[];
  layers: Layer[];
}

// Keras writes `trainable` on every layer; absent means trainable, as in
// Keras. Anything but a boolean is refused rather than guessed.
function trainableOf(c: Dict, name: string): boolean {
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

function inputShapeOf(config: Dict | undefined): number[] | null {
  const shape = config?.batch_input_shape ?? config?.batch_shape;
  if (!Array.isArray(shape) || shape.length < 2) return null;
  const dims = shape.slice(1);
  return dims.every((d) => Number.isInteger(d) && d >= 1)
    ? dims as number[]
    : null;
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
  if (!isDict(model) || model.class_name !== "Sequential") {
    const kind = isDict(model) ? describe(model.class_name) : "nothing";
    throw new ModelFormatError(
      `the topology is ${kind}, not a Keras Sequential model; simdnet loads ` +
        `Sequential models saved by simdnet, tfjs-layers or tensorflowjs_converter`,
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
  return { name, inputShape, layers };
}
