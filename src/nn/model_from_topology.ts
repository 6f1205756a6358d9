/**
 * A model built from the topology of a `model.json` with fresh weights:
 * what `train --model FILE` trains when it does not keep the file's own
 * weights. Only the topology is read, so a `model.json` without weight
 * files (Keras' `model.to_json()` wrapped as TF.js Layers, or a file whose
 * shards were left behind) is enough; the weights are drawn from `seed`
 * as `Sequential` draws them (Glorot uniform kernels, zero biases, the
 * layers' own defaults for the rest), so the same seed gives the same model.
 *
 * @module
 */

import { type Dict, parseModelJson } from "./model_manifest.ts";
import { BYTE_SCALE, readModelMetadata } from "./model_metadata.ts";
import { locateModel, type ModelSource } from "./model_paths.ts";
import {
  type ModelLimits,
  plannedWeights,
  withDefaults,
} from "./model_plan.ts";
import { openLocal, openRemote } from "./model_read.ts";
import { ModelFormatError, parseTopology } from "./model_topology.ts";
import type { Model } from "./model.ts";
import { buildModel } from "./topology_build.ts";
import { glorotUniform } from "./initializers.ts";
import { createRng } from "../util/random.ts";
import { sizeOf } from "./layer.ts";

/** Options of {@linkcode modelFromTopology} and {@linkcode loadTopology}. */
export interface TopologyOptions {
  /** Seed of the fresh weights; default 0. */
  seed?: number;
  /** Bounds the topology must stay within (layers, parameters, activations). */
  limits?: ModelLimits;
  /** How messages name the file; default `model.json`. */
  source?: string;
}

function checkLimits(json: Dict, where: string, limits?: ModelLimits) {
  const bounds = withDefaults(limits);
  const topology = parseTopology(json.modelTopology);
  const planned = plannedWeights(topology, bounds);
  const params = planned.weights.reduce((n, w) => n + sizeOf(w.shape), 0);
  if (4 * params > bounds.maxWeightBytes) {
    throw new ModelFormatError(
      `${where}: the model has ${params} parameters, more than the limit of ` +
        `${bounds.maxWeightBytes / 4}`,
    );
  }
  const values = sizeOf(planned.largest.shape);
  if (values > bounds.maxActivation) {
    throw new ModelFormatError(
      `${where}: ${planned.largest.what} has ${values} values per image, ` +
        `more than the limit of ${bounds.maxActivation}`,
    );
  }
  // Training feeds `byte / 255`; a file that declares another input
  // scaling would be trained on inputs it does not expect.
  const out = planned.outputShape;
  const metadata = readModelMetadata(
    json,
    topology.inputShape,
    out.length === 1 ? out[0]! : null,
  );
  const norm = metadata?.normalization ?? BYTE_SCALE;
  if (
    Math.abs(norm.scale - BYTE_SCALE.scale) > 1e-12 || norm.offset !== 0
  ) {
    throw new ModelFormatError(
      `${where}: its metadata scales input bytes by ${norm.scale} + ` +
        `${norm.offset}, but training feeds byte / 255; move the scaling ` +
        `into a Rescaling layer or remove userDefinedMetadata.simdnet.normalization`,
    );
  }
  return topology;
}

/**
 * The model a `model.json` (bytes, text or parsed object) describes, with
 * fresh weights from `seed`; the weights manifest, if any, is ignored. The
 * topology is checked against the limits before anything is allocated and
 * every failure is one {@linkcode ModelFormatError} line naming the layer.
 */
export function modelFromTopology(
  json: string | Uint8Array | Dict,
  options: TopologyOptions = {},
): Model {
  const where = options.source ?? "model.json";
  const parsed = parseModelJson(json, where);
  let topology;
  try {
    topology = checkLimits(parsed, where, options.limits);
  } catch (error) {
    if (
      error instanceof ModelFormatError && !error.message.startsWith(where)
    ) {
      throw new ModelFormatError(`${where}: ${error.message}`);
    }
    throw error;
  }
  try {
    // The same draws as `new Sequential(layers, { seed })`.
    return buildModel(topology, glorotUniform(createRng(options.seed ?? 0)));
  } catch (error) {
    throw new ModelFormatError(
      `${where}: the topology cannot be built: ${(error as Error).message}`,
    );
  }
}

/**
 * Reads the `model.json` of a directory, path or `file:`/`http(s):` URL and
 * builds its topology with fresh weights from `options.seed` (see
 * {@linkcode modelFromTopology}); no weight file is read.
 */
export async function loadTopology(
  source: ModelSource,
  options: TopologyOptions = {},
): Promise<Model> {
  const loc = locateModel(source);
  const max = withDefaults(options.limits).maxJsonBytes;
  let file;
  try {
    file = loc.url.protocol === "file:"
      ? await openLocal(loc.url, "model", loc.display)
      : await openRemote(loc.url, "model");
  } catch (error) {
    if (
      error instanceof ModelFormatError &&
      / does not exist$/.test(error.message)
    ) {
      throw new ModelFormatError(
        `no model.json at ${loc.display}; pass a model.json file or its directory`,
      );
    }
    throw error;
  }
  const bytes = await file.read(max);
  return modelFromTopology(bytes, { ...options, source: file.shown });
}
