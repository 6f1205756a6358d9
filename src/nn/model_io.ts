/**
 * Saving and loading models in the TF.js Layers format: `model.json` (a
 * Keras `Sequential` topology plus a weights manifest) and one binary shard
 * `group1-shard1of1.bin` of little-endian float32 weights in manifest order.
 * `tf.loadLayersModel` from tfjs-layers can read what this writes, and
 * {@linkcode loadModel} reads what Keras' tfjs converter writes for the
 * layer types simdnet has.
 *
 * @module
 */

import { Conv2D } from "./conv2d.ts";
import { Dense } from "./dense.ts";
import { Dropout } from "./dropout.ts";
import { Flatten } from "./flatten.ts";
import type { Layer } from "./layer.ts";
import { MaxPooling2D } from "./max_pooling2d.ts";
import { Sequential, type WeightValues } from "./sequential.ts";

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

/** A model file that cannot be used, with the fix in the message. */
export class ModelFormatError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ModelFormatError";
  }
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

function pair(v: unknown, what: string): [number, number] {
  const p = typeof v === "number" ? [v, v] : v;
  if (
    !Array.isArray(p) || p.length !== 2 || !p.every((d) => Number.isInteger(d))
  ) {
    throw new ModelFormatError(
      `${what} must be two whole numbers, got ${JSON.stringify(v)}`,
    );
  }
  return p as [number, number];
}

function layerFromConfig(className: string, c: Record<string, unknown>): Layer {
  const name = String(c.name ?? "");
  const unsupported = (what: string) =>
    new ModelFormatError(
      `layer '${name}' (${className}) uses ${what}, which simdnet cannot run`,
    );
  if (c.data_format !== undefined && c.data_format !== "channels_last") {
    throw unsupported(`data_format ${c.data_format}`);
  }
  switch (className) {
    case "Conv2D": {
      if (pair(c.strides ?? 1, "strides").some((s) => s !== 1)) {
        throw unsupported("strides");
      }
      if (pair(c.dilation_rate ?? 1, "dilation_rate").some((s) => s !== 1)) {
        throw unsupported("dilation");
      }
      if (c.activation !== "relu" && c.activation !== "linear") {
        throw unsupported(`activation ${c.activation}`);
      }
      return new Conv2D({
        name,
        filters: c.filters as number,
        kernelSize: pair(c.kernel_size, "kernel_size"),
        padding: c.padding as "same" | "valid",
        activation: c.activation,
        useBias: c.use_bias !== false,
      });
    }
    case "MaxPooling2D": {
      const pool = pair(c.pool_size ?? 2, "pool_size");
      const strides = c.strides == null ? pool : pair(c.strides, "strides");
      if (strides.join() !== pool.join()) {
        throw unsupported("strides other than the pool size");
      }
      return new MaxPooling2D({
        name,
        poolSize: pool,
        padding: c.padding as "same" | "valid",
      });
    }
    case "Dropout":
      return new Dropout(c.rate as number, { name });
    case "Flatten":
      return new Flatten({ name });
    case "Dense": {
      const a = c.activation;
      if (a !== "relu" && a !== "linear" && a !== "softmax") {
        throw unsupported(`activation ${a}`);
      }
      return new Dense({
        name,
        units: c.units as number,
        activation: a,
        useBias: c.use_bias !== false,
      });
    }
    default:
      throw new ModelFormatError(
        `layer '${name}' has type ${className}; simdnet supports Conv2D, ` +
          `MaxPooling2D, Dropout, Flatten and Dense`,
      );
  }
}

/** Rebuilds a model from its `model.json` and weight bytes. */
export function modelFromArtifacts(
  json: ModelJson,
  weights: Uint8Array,
): Sequential {
  const topology = json?.modelTopology;
  if (
    json?.format !== "layers-model" || topology?.class_name !== "Sequential"
  ) {
    throw new ModelFormatError(
      "model.json is not a TF.js Layers Sequential model; save it with saveModel() " +
        "or convert a Keras Sequential model with tensorflowjs_converter",
    );
  }
  let specs = topology.config.layers;
  const inputShape = specs[0]?.config.batch_input_shape as
    | (number | null)[]
    | undefined;
  if (specs[0]?.class_name === "InputLayer") {
    specs = specs.slice(1);
  }
  if (!inputShape || !inputShape.slice(1).every((d) => Number.isInteger(d))) {
    throw new ModelFormatError(
      "model.json lacks the input shape (batch_input_shape)",
    );
  }
  const layers = specs.map((s) => layerFromConfig(s.class_name, s.config));
  const model = new Sequential(layers, {
    name: topology.config.name,
    inputShape: inputShape.slice(1) as number[],
  });
  const manifest = json.weightsManifest.flatMap((g) => g.weights);
  const floats = new Float32Array(
    weights.slice().buffer,
    0,
    Math.floor(weights.length / 4),
  );
  const values: WeightValues[] = [];
  let offset = 0;
  for (const spec of manifest) {
    if (spec.dtype !== "float32") {
      throw new ModelFormatError(
        `weight '${spec.name}' is ${spec.dtype}; only float32 is supported`,
      );
    }
    const n = spec.shape.reduce((a, b) => a * b, 1);
    if (offset + n > floats.length) {
      throw new ModelFormatError(
        `the weight files hold ${floats.length} floats but the manifest needs more; ` +
          `they are truncated or belong to another model`,
      );
    }
    values.push({
      name: spec.name,
      shape: spec.shape,
      values: floats.slice(offset, offset + n),
    });
    offset += n;
  }
  try {
    model.setWeights(values);
  } catch (error) {
    model.dispose();
    throw new ModelFormatError(
      `the weights do not fit the topology: ${(error as Error).message}`,
    );
  }
  return model;
}

/** Loads a model saved by {@linkcode saveModel} from `dir` (or a `model.json` path). */
export async function loadModel(dir: string): Promise<Sequential> {
  const jsonPath = dir.endsWith(".json") ? dir : `${dir}/model.json`;
  const base = jsonPath.slice(0, jsonPath.lastIndexOf("/") + 1);
  let json: ModelJson;
  try {
    json = JSON.parse(await Deno.readTextFile(jsonPath));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new ModelFormatError(
        `no model at ${jsonPath}; pass the --out directory of a training run`,
      );
    }
    if (error instanceof SyntaxError) {
      throw new ModelFormatError(
        `${jsonPath} is not valid JSON: ${error.message}`,
      );
    }
    throw error;
  }
  const parts = await Promise.all(
    (json.weightsManifest ?? []).flatMap((g) => g.paths).map((p) =>
      Deno.readFile(base + p)
    ),
  );
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return modelFromArtifacts(json, bytes);
}
