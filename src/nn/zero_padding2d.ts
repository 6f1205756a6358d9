/**
 * Keras `ZeroPadding2D`: adds rows and columns of zeros around each image
 * (channels_last).
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import {
  describe,
  type LayerConfig,
  ModelFormatError,
} from "./config_values.ts";
import type { ApplyContext, Layer, LayerPlan, NamedWeight } from "./layer.ts";

/** `[[top, bottom], [left, right]]`. */
export type Padding2D = [[number, number], [number, number]];

/**
 * Keras' padding forms: `p` (all sides), `[rows, cols]` (symmetric) or
 * `[[top, bottom], [left, right]]`; null when `v` is none of them.
 */
export function readPadding2D(v: unknown): Padding2D | null {
  const ok = (n: unknown): n is number =>
    Number.isInteger(n) && n as number >= 0;
  if (ok(v)) return [[v, v], [v, v]];
  if (!Array.isArray(v) || v.length !== 2) return null;
  const [a, b] = v;
  if (ok(a) && ok(b)) return [[a, a], [b, b]];
  const pairOk = (p: unknown): p is [number, number] =>
    Array.isArray(p) && p.length === 2 && ok(p[0]) && ok(p[1]);
  return pairOk(a) && pairOk(b) ? [[a[0], a[1]], [b[0], b[1]]] : null;
}

/** Zero padding of the height and width axes. */
export class ZeroPadding2D implements Layer {
  readonly className = "ZeroPadding2D";
  name: string;
  trainable = true;
  readonly padding: Padding2D;
  readonly weights: readonly NamedWeight[] = [];

  /** `padding` in any of Keras' forms; default 1 on every side. */
  constructor(
    options: {
      padding?: number | [number, number] | Padding2D;
      name?: string;
    } = {},
  ) {
    const p = readPadding2D(options.padding ?? 1);
    if (p === null) {
      throw new RangeError(
        `ZeroPadding2D padding must be a whole number >= 0, a pair, or ` +
          `[[top, bottom], [left, right]], got ${describe(options.padding)}`,
      );
    }
    this.padding = p;
    this.name = options.name ?? "";
  }

  /** `[h + top + bottom, w + left + right, c]`; no weights. */
  plan(inputShape: readonly number[]): LayerPlan {
    const [h, w, c] = inputShape;
    if (inputShape.length !== 3 || !h || !w || !c) {
      throw new Error(
        `${this.name}: ZeroPadding2D needs inputs of shape [height, width, ` +
          `channels], got [${inputShape}]`,
      );
    }
    const [[t, b], [l, r]] = this.padding;
    return { output: [h + t + b, w + l + r, c], weights: [] };
  }

  /** The output shape. */
  build(inputShape: readonly number[]): number[] {
    return this.plan(inputShape).output;
  }

  /** One pad op. */
  apply(x: tf.Tensor, _ctx: ApplyContext): tf.Tensor {
    const [rows, cols] = this.padding;
    return tf.pad(x, [[0, 0], rows, cols, [0, 0]]);
  }

  /** Keras config, padding as `[[top, bottom], [left, right]]`. */
  config(): Record<string, unknown> {
    return {
      name: this.name,
      trainable: this.trainable,
      dtype: "float32",
      padding: this.padding.map((p) => [...p]),
      data_format: "channels_last",
    };
  }
}

/** Reads a `ZeroPadding2D` config. */
export function zeroPadding2dFromConfig(
  { name, config: c, where }: LayerConfig,
): ZeroPadding2D {
  const padding = readPadding2D(c.padding ?? 1);
  if (padding === null) {
    throw new ModelFormatError(
      `${where} padding must be a whole number >= 0, a pair, or ` +
        `[[top, bottom], [left, right]], got ${describe(c.padding)}`,
    );
  }
  return new ZeroPadding2D({ name, padding });
}
