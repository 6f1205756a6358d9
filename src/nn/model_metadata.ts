/**
 * What a model needs besides its weights to be used on images: the class
 * names, the input size and the input normalization. They are saved in
 * `model.json` under `userDefinedMetadata.simdnet`, the field tfjs-layers
 * 4.x writes from `model.setUserDefinedMetadata()` and hands back from
 * `tf.loadLayersModel(...).getUserDefinedMetadata()`, so the labels travel
 * with the model to tfjs-layers too:
 *
 * ```json
 * "userDefinedMetadata": { "simdnet": {
 *   "classNames": ["cat", "dog"],
 *   "inputShape": [32, 32, 3],
 *   "normalization": { "scale": 0.00392156862745098, "offset": 0 } } }
 * ```
 *
 * A model input is `byte * scale + offset`. Model files are untrusted, so
 * the metadata is checked when `model.json` is read; a model without it
 * (older runs, models from elsewhere) loads with `metadata: null`.
 *
 * @module
 */

import type { Model } from "./model.ts";
import { describe, ModelFormatError } from "./model_topology.ts";

/** How bytes 0..255 become model inputs: `byte * scale + offset`. */
export interface Normalization {
  scale: number;
  offset: number;
}

/** The normalization simdnet trains with: bytes divided by 255. */
export const BYTE_SCALE: Readonly<Normalization> = Object.freeze({
  scale: 1 / 255,
  offset: 0,
});

/** What simdnet keeps in `userDefinedMetadata.simdnet` of `model.json`. */
export interface ModelMetadata {
  /** Class names by output unit; absent when the model was saved without them. */
  classNames?: readonly string[];
  /** Input `[height, width, channels]`, as the topology's. */
  inputShape: readonly number[];
  /** How image bytes become inputs. */
  normalization: Normalization;
}

// C0 and C1 control characters (tabs, newlines, terminal escapes).
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Longest class name accepted in a model file, in UTF-16 code units. */
export const MAX_CLASS_NAME = 256;

// Metadata read with a model (or given when it was built), by model: the
// model class belongs to the network code, which should not carry labels.
const attached = new WeakMap<Model, ModelMetadata>();

/** Attaches `metadata` to `model`, for saving it again or labelling its outputs. */
export function setModelMetadata(
  model: Model,
  metadata: ModelMetadata | null,
): void {
  if (metadata === null) attached.delete(model);
  else attached.set(model, metadata);
}

/** The metadata `model` was loaded with (or given), else null. */
export function modelMetadata(model: Model): ModelMetadata | null {
  return attached.get(model) ?? null;
}

/**
 * Checks class names for a model with `classes` output units: exactly that
 * many non-empty strings of at most {@linkcode MAX_CLASS_NAME} characters.
 * Throws a {@linkcode ModelFormatError} (untrusted files) or, given
 * `caller` (how the list is named, e.g. `labels`), a `RangeError` (a
 * program's own list).
 */
export function checkClassNames(
  names: unknown,
  classes: number | null,
  caller?: string,
): readonly string[] {
  // `what` is "[i] is ..." for one name, "has ..." for the list.
  const fail = (what: string) => {
    const text = what.startsWith("[") ? what : ` ${what}`;
    return caller !== undefined
      ? new RangeError(`${caller}${text}`)
      : new ModelFormatError(
        `userDefinedMetadata.simdnet.classNames${text}; save the model ` +
          `again with one name per output unit`,
      );
  };
  if (!Array.isArray(names)) {
    throw fail(`must be an array of strings, got ${describe(names)}`);
  }
  if (classes !== null && names.length !== classes) {
    throw fail(
      `has ${names.length} names but the model has ${classes} classes`,
    );
  }
  names.forEach((name, i) => {
    if (
      typeof name !== "string" || name.length === 0 ||
      name.length > MAX_CLASS_NAME
    ) {
      throw fail(
        `[${i}] is ${describe(name)}, not a non-empty string of at most ` +
          `${MAX_CLASS_NAME} characters`,
      );
    }
    // A newline or escape code in a name would forge lines in the CLI's
    // table, logs and error messages.
    if (CONTROL.test(name)) {
      throw fail(`[${i}] is ${describe(name)}, with a control character`);
    }
  });
  return Object.freeze([...names as string[]]);
}

function isDict(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkNormalization(v: unknown): Normalization {
  const where = "userDefinedMetadata.simdnet.normalization";
  if (
    !isDict(v) || typeof v.scale !== "number" || typeof v.offset !== "number" ||
    !Number.isFinite(v.scale) || !Number.isFinite(v.offset) || v.scale === 0
  ) {
    throw new ModelFormatError(
      `${where} is ${describe(v)}; it must be { scale, offset } with finite ` +
        `numbers and scale != 0 (simdnet writes { scale: 1/255, offset: 0 })`,
    );
  }
  return { scale: v.scale, offset: v.offset };
}

/**
 * Reads and checks `userDefinedMetadata.simdnet` of a parsed `model.json`
 * against the topology (`inputShape`, `classes` output units). Returns null
 * when the file has none; other `userDefinedMetadata` keys are left alone.
 */
export function readModelMetadata(
  json: Record<string, unknown>,
  inputShape: readonly number[],
  classes: number | null,
): ModelMetadata | null {
  const user = json.userDefinedMetadata;
  if (user === undefined || user === null) return null;
  if (!isDict(user)) {
    throw new ModelFormatError(
      `userDefinedMetadata is ${describe(user)}, not an object; remove it or ` +
        `save the model again`,
    );
  }
  const ours = user.simdnet;
  if (ours === undefined) return null;
  if (!isDict(ours)) {
    throw new ModelFormatError(
      `userDefinedMetadata.simdnet is ${describe(ours)}, not an object; ` +
        `remove it or save the model again`,
    );
  }
  const shape = ours.inputShape ?? inputShape;
  if (
    !Array.isArray(shape) || shape.length !== inputShape.length ||
    shape.some((d, i) => d !== inputShape[i])
  ) {
    throw new ModelFormatError(
      `userDefinedMetadata.simdnet.inputShape is ${describe(shape)} but the ` +
        `topology's input is [${inputShape}]; save the model again`,
    );
  }
  const metadata: ModelMetadata = {
    inputShape: [...inputShape],
    normalization: ours.normalization === undefined
      ? { ...BYTE_SCALE }
      : checkNormalization(ours.normalization),
  };
  if (ours.classNames !== undefined) {
    metadata.classNames = checkClassNames(ours.classNames, classes);
  }
  return metadata;
}

/** What is saved with a model besides its layers and weights. */
export interface SaveOptions {
  /**
   * Class names by output unit (e.g. the data set's); default the names
   * the model was loaded with, if any. Any script; 1 to 256 characters each.
   */
  classNames?: readonly string[];
  /** How image bytes become inputs; default the loaded one, else `byte / 255`. */
  normalization?: Normalization;
}

/**
 * The metadata to save with `model`: `options` over what it was loaded with.
 *
 * @throws {RangeError} when the class names do not fit the model.
 */
export function metadataFor(
  model: Model,
  options: SaveOptions,
): ModelMetadata {
  const loaded = modelMetadata(model);
  const names = options.classNames ?? loaded?.classNames;
  const [classes] = model.outputShape;
  const norm = options.normalization ?? loaded?.normalization ?? BYTE_SCALE;
  if (
    !Number.isFinite(norm.scale) || !Number.isFinite(norm.offset) ||
    norm.scale === 0
  ) {
    throw new RangeError(
      `normalization must be finite numbers with scale != 0, got ` +
        `${describe(norm)}`,
    );
  }
  const metadata: ModelMetadata = {
    inputShape: [...model.inputShape],
    normalization: { scale: norm.scale, offset: norm.offset },
  };
  if (names !== undefined) {
    metadata.classNames = checkClassNames(
      names,
      model.outputShape.length === 1 ? classes! : null,
      "classNames",
    );
  }
  return metadata;
}

/** The `userDefinedMetadata` object to write into `model.json`. */
export function metadataJson(
  metadata: ModelMetadata,
): { simdnet: Record<string, unknown> } {
  const simdnet: Record<string, unknown> = {};
  if (metadata.classNames) simdnet.classNames = [...metadata.classNames];
  simdnet.inputShape = [...metadata.inputShape];
  simdnet.normalization = { ...metadata.normalization };
  return { simdnet };
}
