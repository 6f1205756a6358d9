/**
 * Saving and loading models in the TF.js Layers format: `model.json` (a
 * Keras `Sequential` topology plus a weights manifest) and one binary shard
 * `group1-shard1of1.bin` of little-endian float32 weights in manifest order.
 * `tf.loadLayersModel` from tfjs-layers can read what this writes, and
 * {@linkcode loadModel} reads what tfjs-layers and Keras' tfjs converter
 * write for the layer types simdnet has (several shards included). Loading
 * checks every weight's name, shape, dtype and byte range against the
 * topology and names the one that is wrong.
 *
 * @module
 */

import { zeros } from "./initializers.ts";
import {
  concatBytes,
  type Dict,
  manifestGroups,
  type ModelJsonInput,
  parseModelJson,
  readWeights,
  weightPaths,
} from "./model_manifest.ts";
import { ModelFormatError, parseTopology } from "./model_topology.ts";
import { Sequential } from "./sequential.ts";

export { ModelFormatError } from "./model_topology.ts";
export {
  concatBytes,
  type ModelJsonInput,
  parseModelJson,
  weightPaths,
} from "./model_manifest.ts";

/** File name of the single weight shard. */
export const WEIGHTS_FILE = "group1-shard1of1.bin";

/** One entry of a weights manifest. */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: "float32";
}

/** The `model.json` of the TF.js Layers format. */
export interface ModelJson {
  format: "layers-model";
  generatedBy: string;
  convertedBy: string | null;
  modelTopology: {
    class_name: "Sequential";
    config: {
      name: string;
      layers: { class_name: string; config: Record<string, unknown> }[];
    };
    keras_version: string;
    backend: string;
  };
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
}

/** Writes `bytes` to `path` atomically: a temporary file in the same directory, synced, then renamed. */
export async function writeFileAtomic(
  path: string,
  bytes: Uint8Array,
): Promise<void> {
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash + 1) : "";
  const tmp = `${dir}.${path.slice(slash + 1)}.tmp-${Deno.pid}-${
    crypto.randomUUID().slice(0, 8)
  }`;
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      let done = 0;
      while (done < bytes.length) {
        done += await file.write(bytes.subarray(done));
      }
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}

/** The model's topology, manifest and weight bytes. */
export async function modelToArtifacts(
  model: Sequential,
): Promise<{ json: ModelJson; weights: Uint8Array }> {
  const values = await model.getWeights();
  const total = values.reduce((n, w) => n + w.values.length, 0);
  const blob = new Float32Array(total);
  let offset = 0;
  for (const w of values) {
    blob.set(w.values, offset);
    offset += w.values.length;
  }
  const layers = model.layers.map((layer, i) => {
    const config = layer.config();
    if (i === 0) config.batch_input_shape = [null, ...model.inputShape];
    return { class_name: layer.className, config };
  });
  const json: ModelJson = {
    format: "layers-model",
    generatedBy: "simdnet",
    convertedBy: null,
    modelTopology: {
      class_name: "Sequential",
      config: { name: model.name, layers },
      keras_version: "tfjs-layers 4.22.0",
      backend: "tensor_flow.js",
    },
    weightsManifest: [{
      paths: [WEIGHTS_FILE],
      weights: values.map((w) => ({
        name: w.name,
        shape: w.shape,
        dtype: "float32",
      })),
    }],
  };
  return { json, weights: new Uint8Array(blob.buffer) };
}

/** Saves `model.json` and the weight shard into `dir` (created if needed). */
export async function saveModel(model: Sequential, dir: string): Promise<void> {
  const { json, weights } = await modelToArtifacts(model);
  await Deno.mkdir(dir, { recursive: true });
  // Weights first: a model.json never points at a missing shard.
  await writeFileAtomic(`${dir}/${WEIGHTS_FILE}`, weights);
  await writeFileAtomic(
    `${dir}/model.json`,
    new TextEncoder().encode(JSON.stringify(json)),
  );
}

/**
 * Rebuilds a model from its `model.json` and weight bytes (the shards
 * joined in manifest order, or the list of shards). Every weight's name,
 * shape, dtype and byte range is checked against the topology; a
 * {@linkcode ModelFormatError} names the first one that is wrong.
 */
export function modelFromArtifacts(
  json: ModelJsonInput,
  weights: Uint8Array | readonly Uint8Array[],
): Sequential {
  const parsed = parseModelJson(json);
  const groups = manifestGroups(parsed, "model.json");
  const topology = parseTopology(parsed.modelTopology);
  let model: Sequential;
  try {
    model = new Sequential(topology.layers, {
      name: topology.name,
      inputShape: topology.inputShape,
      // The values are replaced at once: skip drawing random ones.
      init: zeros,
    });
  } catch (error) {
    throw new ModelFormatError(
      `the topology cannot be built: ${(error as Error).message}`,
    );
  }
  const bytes = weights instanceof Uint8Array ? weights : concatBytes(weights);
  try {
    model.setWeights(
      readWeights(model, groups.flatMap((g) => g.weights), bytes),
    );
  } catch (error) {
    model.dispose();
    throw error instanceof ModelFormatError ? error : new ModelFormatError(
      `the weights do not fit the topology: ${(error as Error).message}`,
    );
  }
  return model;
}

/** Where a model is: a directory, a `model.json` path, or its URL. */
export type ModelSource = string | URL;

/** The raw files of a model, before they are checked. */
export interface ModelArtifacts {
  json: Dict;
  weights: Uint8Array;
  /** Where `model.json` was read from. */
  location: string;
}

function isUrlText(s: string): boolean {
  // Two letters at least, so that a Windows drive (`C:`) stays a path.
  return /^[a-zA-Z][a-zA-Z\d+.-]+:/.test(s);
}

async function fetchBytes(url: URL, what: string): Promise<Uint8Array> {
  if (url.protocol === "file:") {
    try {
      return await Deno.readFile(url);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new ModelFormatError(`${what} ${url.href} does not exist`);
      }
      throw error;
    }
  }
  const res = await fetch(url);
  if (!res.ok) {
    await res.body?.cancel();
    throw new ModelFormatError(
      `cannot load ${what} ${url.href}: HTTP ${res.status}`,
    );
  }
  return new Uint8Array(await res.arrayBuffer());
}

async function readPath(path: string, what: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ModelFormatError(`${what} ${path} does not exist`);
    }
    throw error;
  }
}

/**
 * Reads `model.json` and its weight files from a directory, a `model.json`
 * path, or a `file:`/`http(s):` URL (weight files are resolved next to
 * `model.json`). Paths and `file:` URLs need `--allow-read`, web URLs
 * `--allow-net`.
 */
export async function loadModelArtifacts(
  source: ModelSource,
): Promise<ModelArtifacts> {
  const text = String(source);
  if (source instanceof URL || isUrlText(text)) {
    let url = new URL(text);
    if (!url.pathname.endsWith(".json")) {
      url = new URL(
        "model.json",
        url.href.endsWith("/") ? url : new URL(url.href + "/"),
      );
    }
    let jsonBytes: Uint8Array;
    try {
      jsonBytes = await fetchBytes(url, "model");
    } catch (error) {
      if (error instanceof ModelFormatError && url.protocol === "file:") {
        throw new ModelFormatError(
          `no model at ${url.href}; pass the --out directory of a training run`,
        );
      }
      throw error;
    }
    const json = parseModelJson(jsonBytes, url.href);
    const parts = await Promise.all(
      weightPaths(json).map((p) => fetchBytes(new URL(p, url), "weight file")),
    );
    return { json, weights: concatBytes(parts), location: url.href };
  }
  const jsonPath = text.endsWith(".json")
    ? text
    : `${text.replace(/\/+$/, "")}/model.json`;
  let jsonBytes: Uint8Array;
  try {
    jsonBytes = await Deno.readFile(jsonPath);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ModelFormatError(
        `no model at ${jsonPath}; pass the --out directory of a training run`,
      );
    }
    throw error;
  }
  const json = parseModelJson(jsonBytes, jsonPath);
  const base = jsonPath.slice(0, jsonPath.lastIndexOf("/") + 1);
  const parts = await Promise.all(
    weightPaths(json).map((p) => readPath(base + p, "weight file")),
  );
  return { json, weights: concatBytes(parts), location: jsonPath };
}

/**
 * Loads a model saved by {@linkcode saveModel}, tfjs-layers or the
 * tensorflowjs converter from a directory, a `model.json` path or a URL.
 *
 * @example
 * ```ts ignore
 * const model = await loadModel("runs/2025-01-01T00-00-00");
 * ```
 */
export async function loadModel(source: ModelSource): Promise<Sequential> {
  const { json, weights } = await loadModelArtifacts(source);
  return modelFromArtifacts(json, weights);
}
