/**
 * Reading values from a Keras layer config in `model.json`: the one error
 * type of model files and the checked readers every layer's `fromConfig`
 * uses, so that each bad value gets one line naming the layer and setting.
 *
 * @module
 */

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

/** A JSON object from `model.json`. */
export type Dict = Record<string, unknown>;

/** Whether `v` is a JSON object. */
export function isDict(v: unknown): v is Dict {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Keras' `int or (int, int)` settings (kernel size, strides, pool size). */
export function pair(v: unknown, what: string): [number, number] {
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

/** A whole number >= 1 (filters, units). */
export function count(v: unknown, what: string): number {
  if (!Number.isInteger(v) || (v as number) < 1) {
    throw new ModelFormatError(
      `${what} must be a whole number >= 1, got ${describe(v)}`,
    );
  }
  return v as number;
}

/** Keras' `padding`, default `valid`. */
export function padding(v: unknown, what: string): "same" | "valid" {
  const p = v ?? "valid";
  if (p !== "same" && p !== "valid") {
    throw new ModelFormatError(
      `${what} is ${describe(v)}; simdnet runs "same" and "valid"`,
    );
  }
  return p;
}

/**
 * An activation's name. Keras 3 writes activations as strings too, but
 * some exporters emit the serialised object form `{class_name: "relu"}`.
 */
export function activationName(v: unknown): unknown {
  if (isDict(v) && typeof v.class_name === "string") return v.class_name;
  return v ?? "linear";
}

/** What a layer's `fromConfig` gets: its name, config and error helpers. */
export interface LayerConfig {
  /** The layer's name (checked: a string of at most 256 characters). */
  name: string;
  /** The layer's Keras config. */
  config: Dict;
  /** `layer 'name' (Class)`, the start of every message about it. */
  where: string;
  /** The error for a setting simdnet cannot run, e.g. `unsupported("dilation")`. */
  unsupported: (what: string) => ModelFormatError;
}
