/**
 * Reading the Keras `Sequential` topology of a TF.js Layers `model.json`
 * into simdnet layers. Accepts what simdnet and tfjs-layers save and what
 * the tensorflowjs converter writes for Keras 2 and Keras 3 models (the
 * topology wrapped in `model_config`, an `InputLayer` with
 * `batch_input_shape` or `batch_shape`, or the old list-only config).
 *
 * @module
 */

import { Conv2D } from "./conv2d.ts";
import { Dense } from "./dense.ts";
import { Dropout } from "./dropout.ts";
import { Flatten } from "./flatten.ts";
import type { Layer } from "./layer.ts";
import { MaxPooling2D } from "./max_pooling2d.ts";

/** A model file that cannot be used, with the fix in the message. */
export class ModelFormatError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ModelFormatError";
  }
}

/**
 * A short, one-line rendering of a value from `model.json` for messages:
 * JSON cut at 60 characters, since a hostile file may hold megabytes in
 * one field or nest deeply enough to overflow `JSON.stringify`.
 */
export function describe(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = Array.isArray(value) ? "a deeply nested array" : typeof value;
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/** The parts of a topology simdnet needs to rebuild the model. */
export interface ParsedTopology {
  name: string;
  /** Input shape without the batch axis, e.g. `[32, 32, 3]`. */
  inputShape: number[];
  layers: Layer[];
}

type Dict = Record<string, unknown>;

function isDict(v: unknown): v is Dict {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function pair(v: unknown, what: string): [number, number] {
  const p = typeof v === "number" ? [v, v] : v;
  if (
    !Array.isArray(p) || p.length !== 2 ||
    !p.every((d) => Number.isInteger(d) && d >= 1)
  ) {
    throw new ModelFormatError(
      `${what} must be two whole numbers >= 1, got ${describe(v)}`,
    );
  }
  return p as [number, number];
}

function count(v: unknown, what: string): number {
  if (!Number.isInteger(v) || (v as number) < 1) {
    throw new ModelFormatError(
      `${what} must be a whole number >= 1, got ${describe(v)}`,
    );
  }
  return v as number;
}

function padding(v: unknown, what: string): "same" | "valid" {
  const p = v ?? "valid";
  if (p !== "same" && p !== "valid") {
    throw new ModelFormatError(
      `${what} is ${describe(v)}; simdnet runs "same" and "valid"`,
    );
  }
  return p;
}

// Keras 3 writes activations as strings too, but tolerate the serialised
// object form `{class_name: "relu"}` some exporters emit.
function activationName(v: unknown): unknown {
  if (isDict(v) && typeof v.class_name === "string") return v.class_name;
  return v ?? "linear";
}

function conv2dFromConfig(
  name: string,
  c: Dict,
  where: string,
  unsupported: (what: string) => ModelFormatError,
): Conv2D {
  if (pair(c.strides ?? 1, `${where} strides`).some((s) => s !== 1)) {
    throw unsupported("strides other than 1");
  }
  const dilation = pair(c.dilation_rate ?? 1, `${where} dilation_rate`);
  if (dilation.some((s) => s !== 1)) throw unsupported("dilation");
  if (c.groups != null && c.groups !== 1) throw unsupported("groups");
  const activation = activationName(c.activation);
  if (activation !== "relu" && activation !== "linear") {
    throw unsupported(`activation ${describe(activation)}`);
  }
  return new Conv2D({
    name,
    filters: count(c.filters, `${where} filters`),
    kernelSize: pair(c.kernel_size, `${where} kernel_size`),
    padding: padding(c.padding, `${where} padding`),
    activation,
    useBias: c.use_bias !== false,
  });
}

function layerFromConfig(className: string, c: Dict): Layer {
  const name = c.name ?? "";
  const kind = className.length > 60
    ? `${className.slice(0, 57)}...`
    : className;
  if (typeof name !== "string" || name.length > 256) {
    throw new ModelFormatError(
      `a ${kind} layer has name ${describe(name)}; a layer name must be a ` +
        `string of at most 256 characters`,
    );
  }
  const where = `layer '${name}' (${kind})`;
  const unsupported = (what: string) =>
    new ModelFormatError(`${where} uses ${what}, which simdnet cannot run`);
  if (c.data_format != null && c.data_format !== "channels_last") {
    throw unsupported(`data_format ${describe(c.data_format)}`);
  }
  switch (className) {
    case "Conv2D":
      return conv2dFromConfig(name, c, where, unsupported);
    case "MaxPooling2D": {
      const pool = pair(c.pool_size ?? 2, `${where} pool_size`);
      const strides = c.strides == null
        ? pool
        : pair(c.strides, `${where} strides`);
      if (strides.join() !== pool.join()) {
        throw unsupported("strides other than the pool size");
      }
      return new MaxPooling2D({
        name,
        poolSize: pool,
        padding: padding(c.padding, `${where} padding`),
      });
    }
    case "Dropout": {
      const rate = c.rate;
      if (typeof rate !== "number" || !(rate >= 0 && rate < 1)) {
        throw new ModelFormatError(
          `${where} rate must be a number in [0, 1), got ${describe(rate)}`,
        );
      }
      return new Dropout(rate, { name });
    }
    case "Flatten":
      return new Flatten({ name });
    case "Dense": {
      const a = activationName(c.activation);
      if (a !== "relu" && a !== "linear" && a !== "softmax") {
        throw unsupported(`activation ${describe(a)}`);
      }
      return new Dense({
        name,
        units: count(c.units, `${where} units`),
        activation: a,
        useBias: c.use_bias !== false,
      });
    }
    default:
      throw new ModelFormatError(
        `${where} is not supported; simdnet runs Conv2D, MaxPooling2D, ` +
          `Dropout, Flatten and Dense`,
      );
  }
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
    layer.trainable = trainableOf(spec.config, layer.name);
    return layer;
  });
  return { name, inputShape, layers };
}
