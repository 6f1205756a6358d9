/**
 * Keras' automatic layer names (`conv2d`, `conv2d_1`, ...) and the check
 * that a model's names are unique, shared by every model and by the model
 * file checks, which name layers before anything is built.
 *
 * @module
 */

import type { AnyLayer } from "./layer.ts";

// Keras' automatic names: its snake_case of the class name, so `Conv2D`
// gives `conv2d` and `MaxPooling2D` gives `max_pooling2d`.
function snakeCase(className: string): string {
  return className
    .replace(/(.)([A-Z][a-z0-9]+)/g, "$1_$2")
    .replace(/([a-z])([A-Z])/g, "$1_$2")
    .toLowerCase();
}

/**
 * Names unnamed layers like Keras (`conv2d`, `conv2d_1`, ...) and checks
 * that names are unique, also against `reserved` (the input layer's name).
 * Naming twice changes nothing.
 */
export function nameLayers(
  layers: readonly AnyLayer[],
  reserved: readonly string[] = [],
): void {
  const counts = new Map<string, number>();
  const names = new Set<string>(reserved);
  for (const layer of layers) {
    if (layer.name === "") {
      const base = snakeCase(layer.className);
      const n = counts.get(base) ?? 0;
      counts.set(base, n + 1);
      layer.name = n === 0 ? base : `${base}_${n}`;
    }
    if (names.has(layer.name)) {
      throw new Error(
        `two layers are named '${layer.name}'; names must be unique`,
      );
    }
    names.add(layer.name);
  }
}
