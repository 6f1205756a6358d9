/**
 * Checked readers for the numeric and boolean settings of the
 * normalisation and activation layers' configs (momentum, epsilon, slopes,
 * scale), each failing with one line naming the layer and the setting.
 *
 * @module
 */

import { describe, type Dict, ModelFormatError } from "./config_values.ts";

/** Bounds of a number setting; both inclusive unless `above` is set. */
export interface NumberRange {
  /** The value must be >= min (or > min with `above`). */
  min?: number;
  /** The value must be <= max. */
  max?: number;
  /** Makes `min` exclusive (epsilon > 0). */
  above?: boolean;
}

/**
 * `c[key]` as a finite number, or `fallback` when absent or null (Keras'
 * default); a ModelFormatError when it is anything else or out of range.
 */
export function numberSetting(
  c: Dict,
  key: string,
  where: string,
  fallback: number,
  range: NumberRange = {},
): number {
  const v = c[key] ?? fallback;
  const { min = -Infinity, max = Infinity, above = false } = range;
  const ok = typeof v === "number" && Number.isFinite(v) &&
    (above ? v > min : v >= min) && v <= max;
  if (!ok) {
    const low = min === -Infinity ? "" : `${above ? ">" : ">="} ${min}`;
    const high = max === Infinity ? "" : `<= ${max}`;
    const bounds = [low, high].filter((s) => s !== "").join(" and ");
    throw new ModelFormatError(
      `${where} ${key} must be a finite number${bounds ? ` ${bounds}` : ""}, ` +
        `got ${describe(c[key])}`,
    );
  }
  return v;
}

/** `c[key]` as a boolean, `fallback` when absent or null. */
export function boolSetting(
  c: Dict,
  key: string,
  where: string,
  fallback: boolean,
): boolean {
  const v = c[key] ?? fallback;
  if (typeof v !== "boolean") {
    throw new ModelFormatError(
      `${where} ${key} must be true or false, got ${describe(c[key])}`,
    );
  }
  return v;
}
