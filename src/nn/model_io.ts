/**
 * Saving and loading models in the TF.js Layers format: `model.json` (a
 * Keras `Sequential` or functional topology plus a weights manifest) and one binary shard
 * `group1-shard1of1.bin` of little-endian float32 weights in manifest order.
 * `tf.loadLayersModel` from tfjs-layers can read what this writes, and
 * {@linkcode loadModel} reads what tfjs-layers and Keras' tfjs converter
 * write for the layer types simdnet has (several shards included). Loading
 * checks every weight's name, shape, dtype and byte range against the
 * topology and names the one that is wrong.
 *
 * Model files are untrusted input: weight paths are confined to the model's
 * folder (`model_paths.ts`), `model.json` is checked against the limits and
 * its own manifest before anything is allocated (`model_plan.ts`), and file
 * sizes are compared with the manifest before any weight is read
 * (`model_read.ts`). Every failure is one {@linkcode ModelFormatError} line.
 *
 * @module
 */

import { writeFileAtomic } from "../util/atomic_write.ts";
import { zeros } from "./initializers.ts";
import type { ModelJson } from "./model_json.ts";
import {
  checkByteCount,
  concatBytes,
  type Dict,
  type ModelJsonInput,
  parseModelJson,
  readWeights,
} from "./model_manifest.ts";
import {
  displayUrl,
  locateModel,
  type ModelLocation,
  type ModelSource,
  resolveWeightUrls,
} from "./model_paths.ts";
import {
  type ModelLimits,
  type ModelPlan,
  planModel,
  withDefaults,
} from "./model_plan.ts";
import {
  metadataFor,
  metadataJson,
  type ModelMetadata,
  type SaveOptions,
  setModelMetadata,
} from "./model_metadata.ts";
import { type OpenedFile, openLocal, openRemote } from "./model_read.ts";
import type { Model } from "./model.ts";
import { ModelFormatError } from "./model_topology.ts";
import { buildModel } from "./topology_build.ts";
import { topologyJson } from "./topology_write.ts";

export { ModelFormatError } from "./model_topology.ts";
export type { ModelJson, WeightSpec } from "./model_json.ts";
export {
  concatBytes,
  type ModelJsonInput,
  parseModelJson,
  weightPaths,
} from "./model_manifest.ts";
export type { ModelSource } from "./model_paths.ts";
export { DEFAULT_LIMITS, type ModelLimits } from "./model_plan.ts";
export {
  BYTE_SCALE,
  MAX_CLASS_NAME,
  type ModelMetadata,
  modelMetadata,
  type Normalization,
  type SaveOptions,
  setModelMetadata,
} from "./model_metadata.ts";

/** File name of the single weight shard. */
export const WEIGHTS_FILE = "group1-shard1of1.bin";

/**
 * The model's topology, manifest and weight bytes; `model.json` carries the
 * class names, input shape and normalization in `userDefinedMetadata`.
 *
 * @throws {RangeError} when `classNames` does not hold one non-empty name
 * of at most 256 characters per output unit.
 */
export async function modelToArtifacts(
  model: Model,
  options: SaveOptions = {},
): Promise<{ json: ModelJson; weights: Uint8Array }> {
  const metadata = metadataFor(model, options);
  const values = await model.getWeights();
  const total = values.reduce((n, w) => n + w.values.length, 0);
  const blob = new Float32Array(total);
  let offset = 0;
  for (const w of values) {
    blob.set(w.values, offset);
    offset += w.values.length;
  }
  const json: ModelJson = {
    format: "layers-model",
    generatedBy: "simdnet",
    convertedBy: null,
    modelTopology: topologyJson(model),
    weightsManifest: [{
      paths: [WEIGHTS_FILE],
      weights: values.map((w) => ({
        name: w.name,
        shape: w.shape,
        dtype: "float32",
      })),
    }],
    userDefinedMetadata: metadataJson(metadata),
  };
  return { json, weights: new Uint8Array(blob.buffer) };
}

/**
 * Saves `model.json` and the weight shard into `dir` (created if needed),
 * with the class names of `options` (see {@linkcode modelToArtifacts}).
 */
export async function saveModel(
  model: Model,
  dir: string,
  options: SaveOptions = {},
): Promise<void> {
  const { json, weights } = await modelToArtifacts(model, options);
  await Deno.mkdir(dir, { recursive: true });
  // Weights first: a model.json never points at a missing shard.
  await writeFileAtomic(`${dir}/${WEIGHTS_FILE}`, weights);
  await writeFileAtomic(
    `${dir}/model.json`,
    new TextEncoder().encode(JSON.stringify(json)),
  );
}

/** Options of the model loaders. */
export interface LoadOptions {
  /** Bounds the model files must stay within; see {@linkcode ModelLimits}. */
  limits?: ModelLimits;
  /** How messages name `model.json`; default `model.json`. */
  source?: string;
}

/** Runs `fn`, naming the file `where` in any {@linkcode ModelFormatError}. */
function inFile<T>(where: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (error instanceof ModelFormatError && !error.message.startsWith(where)) {
      throw new ModelFormatError(`${where}: ${error.message}`);
    }
    throw error;
  }
}

/**
 * Rebuilds a model from its `model.json` and weight bytes (the shards
 * joined in manifest order, or the list of shards). The topology, the
 * manifest and the byte count are checked against each other and the
 * limits before any tensor is allocated; a {@linkcode ModelFormatError}
 * names the first thing that is wrong. The model's metadata (class names,
 * normalization) is checked too and attached: read it with
 * {@linkcode modelMetadata}.
 */
export function modelFromArtifacts(
  json: ModelJsonInput,
  weights: Uint8Array | readonly Uint8Array[],
  options: LoadOptions = {},
): Model {
  const where = options.source ?? "model.json";
  const maxJson = withDefaults(options.limits).maxJsonBytes;
  if (typeof json === "string" || json instanceof Uint8Array) {
    // Bytes from a caller get the limit files get in loadModelArtifacts.
    if (json.length > maxJson) {
      throw new ModelFormatError(
        `${where} is larger than the limit of ${maxJson} bytes`,
      );
    }
  }
  const plan = inFile(
    where,
    () => planModel(parseModelJson(json, where), options.limits),
  );
  const parts = weights instanceof Uint8Array ? [weights] : weights;
  const length = parts.reduce((n, p) => n + p.length, 0);
  inFile(where, () => checkByteCount(plan.entries, length));
  const values = inFile(
    where,
    () => readWeights(plan.entries, concatBytes(parts)),
  );
  let model: Model;
  try {
    model = buildModel(plan.topology, zeros);
  } catch (error) {
    // Layers built before the one that failed hold tensors: free them.
    const layers = plan.topology.kind === "Sequential"
      ? plan.topology.layers
      : plan.topology.nodes.map((n) => n.layer);
    for (const w of layers.flatMap((l) => l.weights)) w.variable.dispose();
    throw new ModelFormatError(
      `${where}: the topology cannot be built: ${(error as Error).message}`,
    );
  }
  try {
    model.setWeights(values);
  } catch (error) {
    model.dispose();
    throw new ModelFormatError(
      `${where}: the weights do not fit the topology: ${
        (error as Error).message
      }`,
    );
  }
  setModelMetadata(model, plan.metadata);
  return model;
}

/** The raw files of a model, checked against each other but not yet built. */
export interface ModelArtifacts {
  json: Dict;
  weights: Uint8Array;
  /** Where `model.json` was read from. */
  location: string;
  /** The checked class names and input description, or null without them. */
  metadata: ModelMetadata | null;
}

async function readModelJson(
  loc: ModelLocation,
  maxBytes: number,
): Promise<{ json: Dict; url: URL; shown: string }> {
  let file: OpenedFile;
  try {
    file = loc.url.protocol === "file:"
      ? await openLocal(loc.url, "model", loc.display)
      : await openRemote(loc.url, "model");
  } catch (error) {
    if (
      error instanceof ModelFormatError && loc.url.protocol === "file:" &&
      / does not exist$/.test(error.message)
    ) {
      throw new ModelFormatError(
        `no model at ${loc.display}; pass the --out directory of a training run`,
      );
    }
    throw error;
  }
  const bytes = await file.read(maxBytes);
  const json = parseModelJson(bytes, file.shown);
  return { json, url: file.url, shown: file.shown };
}

// On disk every size is known from stat, so the total is checked before any
// byte is read. Over http each Content-Length is checked before its body is
// read, and every body is cut off at what the manifest still expects.
async function readShards(
  urls: readonly URL[],
  loc: ModelLocation,
  modelUrl: URL,
  plan: ModelPlan,
  where: string,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  if (modelUrl.protocol === "file:") {
    const files: OpenedFile[] = [];
    for (const url of urls) {
      files.push(
        await openLocal(url, "weight file", displayUrl(url, loc), modelUrl),
      );
    }
    const sizes = files.reduce((n, f) => n + (f.size ?? 0), 0);
    inFile(where, () => checkByteCount(plan.entries, sizes));
    for (const f of files) parts.push(await f.read(f.size ?? 0));
    return concatBytes(parts);
  }
  let left = plan.totalBytes;
  for (const url of urls) {
    const file = await openRemote(url, "weight file");
    if (file.size !== null && file.size > left) {
      await file.cancel();
      const seen = plan.totalBytes - left + file.size;
      inFile(where, () => checkByteCount(plan.entries, seen));
    }
    const bytes = await file.read(left);
    parts.push(bytes);
    left -= bytes.length;
  }
  const joined = concatBytes(parts);
  inFile(where, () => checkByteCount(plan.entries, joined.length));
  return joined;
}

/**
 * Reads `model.json` and its weight files from a directory, a `model.json`
 * path, or a `file:`/`http(s):` URL. Before any weight file is read,
 * `model.json` is checked (topology against manifest, limits), every
 * weight path is resolved and confined to the model's folder, and the
 * files' sizes are compared with the manifest. Paths and `file:` URLs need
 * `--allow-read`, web URLs `--allow-net`.
 */
export async function loadModelArtifacts(
  source: ModelSource,
  options: LoadOptions = {},
): Promise<ModelArtifacts> {
  const loc = locateModel(source);
  const limits = withDefaults(options.limits);
  const { json, url, shown } = await readModelJson(loc, limits.maxJsonBytes);
  const plan = inFile(shown, () => planModel(json, limits));
  const urls = inFile(
    shown,
    () => resolveWeightUrls(plan.paths, url, limits.maxShards),
  );
  const weights = await readShards(urls, loc, url, plan, shown);
  return { json, weights, location: shown, metadata: plan.metadata };
}

/**
 * Loads a model saved by {@linkcode saveModel}, tfjs-layers or the
 * tensorflowjs converter from a directory, a `model.json` path or a URL,
 * with the checks of {@linkcode loadModelArtifacts}.
 *
 * @example
 * ```ts ignore
 * const model = await loadModel("runs/2025-01-01T00-00-00");
 * ```
 */
export async function loadModel(
  source: ModelSource,
  options: LoadOptions = {},
): Promise<Model> {
  const { json, weights, location } = await loadModelArtifacts(
    source,
    options,
  );
  return modelFromArtifacts(json, weights, { ...options, source: location });
}
