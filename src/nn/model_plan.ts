/**
 * Checking a parsed `model.json` before anything is allocated or read:
 * each layer's weight shapes are computed from its config alone, matched
 * against the manifest's declared names, dtypes and shapes, and held to
 * global limits (layers, parameters, activation size, shards, bytes). A
 * model that passes needs exactly {@linkcode ModelPlan.totalBytes} bytes of
 * weights; a hostile one fails here, in microseconds, instead of after a
 * multi-gigabyte build or read.
 *
 * @module
 */

import {
  type AnyLayer,
  isMergeLayer,
  type LayerPlan,
  type PlannedWeight,
  sizeOf,
} from "./layer.ts";
import {
  checkManifest,
  type Dict,
  type ManifestEntry,
  manifestGroups,
} from "./model_manifest.ts";
import { type ModelMetadata, readModelMetadata } from "./model_metadata.ts";
import {
  ModelFormatError,
  type ParsedTopology,
  parseTopology,
  topologyNodes,
} from "./model_topology.ts";
import { nameLayers } from "./layer_names.ts";

/** Bounds a model file must stay within; every field is optional. */
export interface ModelLimits {
  /** Largest `model.json` in bytes; default 16 MiB. */
  maxJsonBytes?: number;
  /** Largest total of weight bytes (float32: 4 per parameter); default 512 MiB. */
  maxWeightBytes?: number;
  /** Most weight files in the manifest; default 1024. */
  maxShards?: number;
  /** Most layers in the topology; default 1024. */
  maxLayers?: number;
  /**
   * Largest input or layer output for one image, in values; default 2^22
   * (16 MiB of float32; 224x224x64 fits). It bounds the memory of every
   * forward pass, which the model file otherwise decides.
   */
  maxActivation?: number;
}

/** The limits used when none are given. */
export const DEFAULT_LIMITS: Readonly<Required<ModelLimits>> = Object.freeze({
  maxJsonBytes: 16 * 2 ** 20,
  maxWeightBytes: 512 * 2 ** 20,
  maxShards: 1024,
  maxLayers: 1024,
  maxActivation: 2 ** 22,
});

/** `limits` over the defaults. */
export function withDefaults(limits?: ModelLimits): Required<ModelLimits> {
  return { ...DEFAULT_LIMITS, ...limits };
}

export type { PlannedWeight } from "./layer.ts";

/** What a checked `model.json` describes. */
export interface ModelPlan {
  /** The layers, named, not yet built. */
  topology: ParsedTopology;
  /** The manifest's weights in file order, with their byte ranges. */
  entries: ManifestEntry[];
  /** Bytes the weight files must hold together. */
  totalBytes: number;
  /** The weight file paths, in order, as the manifest lists them. */
  paths: string[];
  /** The checked `userDefinedMetadata.simdnet`, or null without one. */
  metadata: ModelMetadata | null;
}

// Each layer computes its own plan; a layer's message starts with its
// name, which is replaced here by the "layer 'name' (Class)" of every
// model-file error.
function layerPlan(
  layer: AnyLayer,
  inputs: readonly (readonly number[])[],
): LayerPlan {
  try {
    return isMergeLayer(layer) ? layer.plan(inputs) : layer.plan(inputs[0]!);
  } catch (error) {
    const message = (error as Error).message;
    const own = `${layer.name}: `;
    const text = message.startsWith(own) ? message.slice(own.length) : message;
    throw new ModelFormatError(
      `layer '${layer.name}' (${layer.className}): ${text}`,
    );
  }
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

/** What {@linkcode plannedWeights} found: the weights and the largest activation. */
export interface PlannedModel {
  weights: PlannedWeight[];
  /** The largest output of a layer (or the input), per image. */
  largest: { what: string; shape: number[] };
  /** The last layer's output shape, per image. */
  outputShape: number[];
}

/**
 * The weights the topology needs, computed from the layer configs without
 * creating any tensor; throws when a layer cannot run on its input. Sizes
 * are only computed here, and held to the limits by {@linkcode planModel}
 * after the manifest is matched.
 */
export function plannedWeights(
  topology: ParsedTopology,
  limits: Required<ModelLimits>,
): PlannedModel {
  const { inputShape } = topology;
  const nodes = topologyNodes(topology);
  const layers = nodes.map((n) => n.layer);
  if (layers.length === 0 || layers.length > limits.maxLayers) {
    throw new ModelFormatError(
      `the topology has ${layers.length} layers; simdnet loads 1 to ` +
        `${limits.maxLayers}`,
    );
  }
  try {
    nameLayers(
      layers,
      topology.kind === "Functional" ? [topology.inputName] : [],
    );
  } catch (error) {
    throw new ModelFormatError((error as Error).message);
  }
  let shape: number[] = [...inputShape];
  let largest = { what: "the input", shape };
  const weights: PlannedWeight[] = [];
  const shapes: number[][] = [];
  for (const { layer, inputs } of nodes) {
    const plan = layerPlan(
      layer,
      inputs.map((i) => (i < 0 ? inputShape : shapes[i]!)),
    );
    shape = plan.output;
    shapes.push(shape);
    if (sizeOf(shape) > sizeOf(largest.shape)) {
      largest = { what: `the output of layer '${layer.name}'`, shape };
    }
    weights.push(...plan.weights);
  }
  return { weights, largest, outputShape: shape };
}

function checkSize(
  { weights, largest }: PlannedModel,
  limits: Required<ModelLimits>,
): void {
  const values = sizeOf(largest.shape);
  if (values > limits.maxActivation) {
    throw new ModelFormatError(
      `${largest.what} has ${values} values per image [${largest.shape}], ` +
        `more than the limit of ${limits.maxActivation}`,
    );
  }
  const bytes = 4 * weights.reduce((n, w) => n + sizeOf(w.shape), 0);
  if (bytes > limits.maxWeightBytes) {
    const big = weights.reduce((a, b) =>
      sizeOf(b.shape) > sizeOf(a.shape) ? b : a
    );
    throw new ModelFormatError(
      `the model has ${bytes / 4} parameters (${mib(bytes)}, the largest ` +
        `'${big.name}' [${big.shape}]), more than the limit of ` +
        `${mib(limits.maxWeightBytes)}`,
    );
  }
}

/**
 * Checks a parsed `model.json`: the topology, the manifest against the
 * shapes the topology implies, and the limits, in that order, so that a
 * manifest that disagrees with the topology is named as such even when the
 * topology alone would be too large. Allocates nothing but the plan.
 */
export function planModel(json: Dict, limits?: ModelLimits): ModelPlan {
  const bounds = withDefaults(limits);
  const groups = manifestGroups(json, "model.json");
  const topology = parseTopology(json.modelTopology);
  const planned = plannedWeights(topology, bounds);
  const { entries, totalBytes } = checkManifest(
    planned.weights,
    groups.flatMap((g) => g.weights),
  );
  checkSize(planned, bounds);
  const out = planned.outputShape;
  const metadata = readModelMetadata(
    json,
    topology.inputShape,
    out.length === 1 ? out[0]! : null,
  );
  return {
    topology,
    entries,
    totalBytes,
    paths: groups.flatMap((g) => g.paths),
    metadata,
  };
}
