/**
 * The `model.json` side of the TF.js Layers format: parsing, the weights
 * manifest, the shard list, and reading weight values with every name,
 * shape, dtype and byte range checked against the topology.
 *
 * @module
 */

import type { ModelJson } from "./model_io.ts";
import { ModelFormatError } from "./model_topology.ts";
import type { Sequential, WeightValues } from "./sequential.ts";

/** `model.json` as an object, its text, or its bytes. */
export type ModelJsonInput =
  | ModelJson
  | Record<string, unknown>
  | string
  | Uint8Array;

/** A parsed JSON object. */
export type Dict = Record<string, unknown>;

function isDict(v: unknown): v is Dict {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Parses `model.json` given as bytes, text or an already parsed object. */
export function parseModelJson(
  input: ModelJsonInput,
  where = "model.json",
): Dict {
  let value: unknown = input;
  if (typeof input === "string" || input instanceof Uint8Array) {
    const text = typeof input === "string"
      ? input
      : new TextDecoder().decode(input);
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new ModelFormatError(
        `${where} is not valid JSON: ${(error as Error).message}`,
      );
    }
  }
  if (!isDict(value) || !isDict(value.modelTopology)) {
    throw new ModelFormatError(
      `${where} has no modelTopology: it is not a TF.js Layers model ` +
        `(a graph model from tensorflowjs_converter cannot be loaded)`,
    );
  }
  if (value.format !== undefined && value.format !== "layers-model") {
    throw new ModelFormatError(
      `${where} has format ${JSON.stringify(value.format)}, not "layers-model"`,
    );
  }
  return value;
}

/** One group of the weights manifest. */
export interface ManifestGroup {
  paths: string[];
  weights: Dict[];
}

/** The manifest groups of a parsed `model.json`, checked for shape. */
export function manifestGroups(json: Dict, where: string): ManifestGroup[] {
  const manifest = json.weightsManifest;
  const bad = () =>
    new ModelFormatError(
      `${where} has no valid weightsManifest (a list of {paths, weights} groups)`,
    );
  if (!Array.isArray(manifest)) throw bad();
  return manifest.map((group) => {
    if (
      !isDict(group) || !Array.isArray(group.paths) ||
      !Array.isArray(group.weights) ||
      !group.paths.every((p) => typeof p === "string") ||
      !group.weights.every(isDict)
    ) {
      throw bad();
    }
    return group as unknown as ManifestGroup;
  });
}

/**
 * The weight files `model.json` lists, in order. Only names relative to
 * `model.json` without `..` are accepted, so a model file cannot make the
 * loader read elsewhere.
 */
export function weightPaths(json: ModelJsonInput): string[] {
  const paths = manifestGroups(parseModelJson(json), "model.json").flatMap((
    g,
  ) => g.paths);
  for (const p of paths) {
    if (
      p === "" || p.startsWith("/") || /^[a-zA-Z][a-zA-Z\d+.-]*:/.test(p) ||
      p.split(/[\\/]/).includes("..")
    ) {
      throw new ModelFormatError(
        `weight file path ${JSON.stringify(p)} in model.json must be a file ` +
          `name relative to model.json`,
      );
    }
  }
  return paths;
}

/** Joins weight shards in manifest order. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

// Exporters differ in how they scope names: Keras' converter may write
// `sequential/conv2d/kernel` or `conv2d/kernel:0` for `conv2d/kernel`.
function matchName(name: string, known: ReadonlyMap<string, unknown>): string {
  if (known.has(name)) return name;
  const bare = name.replace(/:\d+$/, "");
  const parts = bare.split("/");
  for (let i = 0; i < parts.length - 1; i++) {
    const candidate = parts.slice(i).join("/");
    if (known.has(candidate)) return candidate;
  }
  return name;
}

/**
 * Reads the values of every weight of `model` from the joined shards, in
 * manifest order, checking each entry against the topology.
 */
export function readWeights(
  model: Sequential,
  specs: readonly Dict[],
  bytes: Uint8Array,
): WeightValues[] {
  const wanted = new Map(model.weights.map((w) => [w.name, w.variable.shape]));
  const list = [...wanted.keys()].join(", ");
  const seen = new Set<string>();
  const out: WeightValues[] = [];
  let offset = 0;
  specs.forEach((spec, i) => {
    const raw = typeof spec.name === "string" ? spec.name : `#${i + 1}`;
    const where = `weight '${raw}'`;
    if (spec.quantization != null) {
      throw new ModelFormatError(
        `${where} is quantized; simdnet loads float32 weights only ` +
          `(convert without --quantize_*)`,
      );
    }
    if (spec.dtype !== "float32") {
      throw new ModelFormatError(
        `${where} has dtype ${
          JSON.stringify(spec.dtype)
        }; simdnet loads float32 weights only`,
      );
    }
    const shape = spec.shape;
    if (
      !Array.isArray(shape) ||
      !shape.every((d) => Number.isInteger(d) && d >= 0)
    ) {
      throw new ModelFormatError(
        `${where} has no valid shape: ${JSON.stringify(shape)}`,
      );
    }
    const name = matchName(raw, wanted);
    const want = wanted.get(name);
    if (want === undefined) {
      throw new ModelFormatError(
        `${where} (manifest entry ${i + 1}) is not a weight of the ` +
          `topology, whose weights are: ${list}`,
      );
    }
    if (seen.has(name)) {
      throw new ModelFormatError(`${where} is listed twice in the manifest`);
    }
    seen.add(name);
    if (!sameShape(shape, want)) {
      throw new ModelFormatError(
        `${where} has shape [${shape}] in the manifest, but the topology ` +
          `needs [${want}]`,
      );
    }
    const end = offset + 4 * shape.reduce((a, b) => a * b, 1);
    if (end > bytes.length) {
      throw new ModelFormatError(
        `${where} needs bytes ${offset}..${end} but the weight files hold ` +
          `only ${bytes.length} bytes: they are truncated or belong to another model`,
      );
    }
    // A copy: the shard may be unaligned, and values must not alias it.
    const values = new Float32Array(bytes.slice(offset, end).buffer);
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new ModelFormatError(
        `${where} holds ${
          values[bad]
        } at index ${bad}: the weight file is corrupt`,
      );
    }
    out.push({ name, shape: [...want], values });
    offset = end;
  });
  const missing = [...wanted.keys()].filter((n) => !seen.has(n));
  if (missing.length > 0) {
    throw new ModelFormatError(
      `the manifest lacks weight${missing.length > 1 ? "s" : ""} ` +
        `${missing.map((n) => `'${n}'`).join(", ")}, which the topology needs`,
    );
  }
  if (offset !== bytes.length) {
    throw new ModelFormatError(
      `the weight files hold ${bytes.length} bytes but the manifest describes ` +
        `${offset}: they belong to another model or are corrupt`,
    );
  }
  return out;
}
