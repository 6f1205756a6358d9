/**
 * The `model.json` side of the TF.js Layers format: parsing, the weights
 * manifest, the shard list, and reading weight values with every name,
 * shape, dtype and byte range checked against the topology.
 *
 * @module
 */

import { sizeOf } from "./layer.ts";
import type { ModelJson } from "./model_json.ts";
import { resolveWeightUrl } from "./model_paths.ts";
import { describe, ModelFormatError } from "./model_topology.ts";
import type { WeightValues } from "./model.ts";

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
      // V8 quotes the text around the error; keep the message one short line.
      const why = (error as Error).message.replaceAll(/\s+/g, " ");
      throw new ModelFormatError(
        `${where} is not valid JSON: ${
          why.length > 100 ? `${why.slice(0, 97)}...` : why
        }`,
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
      `${where} has format ${describe(value.format)}, not "layers-model"`,
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
 * The weight files `model.json` lists, in order, each checked to be a
 * file name inside the model's folder (see `model_paths.ts`), so a model
 * file cannot make the loader read elsewhere.
 */
export function weightPaths(json: ModelJsonInput): string[] {
  const paths = manifestGroups(parseModelJson(json), "model.json").flatMap((
    g,
  ) => g.paths);
  // Any base works for the check: only the path's own text matters.
  const base = new URL("file:///model/model.json");
  for (const p of paths) resolveWeightUrl(p, base);
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

/** A manifest weight matched to the topology, with its byte range. */
export interface ManifestEntry {
  /** The topology's name for it. */
  name: string;
  shape: number[];
  /** Byte range in the joined weight files. */
  start: number;
  end: number;
}

function specShape(spec: Dict, where: string): number[] {
  if (spec.quantization != null) {
    throw new ModelFormatError(
      `${where} is quantized; simdnet loads float32 weights only ` +
        `(convert without --quantize_*)`,
    );
  }
  if (spec.dtype !== "float32") {
    throw new ModelFormatError(
      `${where} has dtype ${describe(spec.dtype)}; simdnet loads float32 ` +
        `weights only`,
    );
  }
  const shape = spec.shape;
  if (
    !Array.isArray(shape) || shape.length > 8 ||
    !shape.every((d) => Number.isSafeInteger(d) && d >= 0)
  ) {
    throw new ModelFormatError(
      `${where} has no valid shape (up to 8 whole sizes >= 0): ${
        describe(shape)
      }`,
    );
  }
  return shape as number[];
}

/**
 * Matches every manifest entry to a weight the topology needs (`planned`,
 * from the layer configs), in manifest order: name, dtype, shape, no
 * duplicates, nothing missing. Returns each entry's byte range and the
 * total, so that sizes can be checked before any weight file is read.
 */
export function checkManifest(
  planned: readonly { name: string; shape: number[] }[],
  specs: readonly Dict[],
): { entries: ManifestEntry[]; totalBytes: number } {
  const wanted = new Map(planned.map((w) => [w.name, w.shape]));
  const seen = new Set<string>();
  const entries: ManifestEntry[] = [];
  let offset = 0;
  specs.forEach((spec, i) => {
    const raw = typeof spec.name === "string" ? spec.name : `#${i + 1}`;
    const where = `weight ${describe(raw).replaceAll('"', "'")}`;
    const shape = specShape(spec, where);
    const name = matchName(raw, wanted);
    const want = wanted.get(name);
    if (want === undefined) {
      const list = [...wanted.keys()].join(", ");
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
    const end = offset + 4 * sizeOf(shape);
    entries.push({ name, shape: [...want], start: offset, end });
    offset = end;
  });
  const missing = [...wanted.keys()].filter((n) => !seen.has(n));
  if (missing.length > 0) {
    throw new ModelFormatError(
      `the manifest lacks weight${missing.length > 1 ? "s" : ""} ` +
        `${missing.map((n) => `'${n}'`).join(", ")}, which the topology needs`,
    );
  }
  return { entries, totalBytes: offset };
}

/**
 * Throws unless the weight files, `length` bytes together, hold exactly
 * the bytes the manifest describes, naming the first weight that does not
 * fit. Needs only the length: it runs on file sizes before any read.
 */
export function checkByteCount(
  entries: readonly ManifestEntry[],
  length: number,
): void {
  const short = entries.find((e) => e.end > length);
  if (short) {
    throw new ModelFormatError(
      `weight '${short.name}' needs bytes ${short.start}..${short.end} but ` +
        `the weight files hold only ${length} bytes: they are truncated or ` +
        `belong to another model`,
    );
  }
  const total = entries[entries.length - 1]?.end ?? 0;
  if (total !== length) {
    throw new ModelFormatError(
      `the weight files hold ${length} bytes but the manifest describes ` +
        `${total}: they belong to another model or are corrupt`,
    );
  }
}

/**
 * Reads the values of every checked entry from the joined shards, which
 * must already have passed {@linkcode checkByteCount}; refuses NaN and
 * infinite values.
 */
export function readWeights(
  entries: readonly ManifestEntry[],
  bytes: Uint8Array,
): WeightValues[] {
  checkByteCount(entries, bytes.length);
  return entries.map(({ name, shape, start, end }) => {
    // A copy: the shard may be unaligned, and values must not alias it.
    const values = new Float32Array(bytes.slice(start, end).buffer);
    const bad = values.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) {
      throw new ModelFormatError(
        `weight '${name}' holds ${values[bad]} at index ${bad}: the weight ` +
          `file is corrupt`,
      );
    }
    return { name, shape, values };
  });
}
