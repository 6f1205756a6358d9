/**
 * Keras' weight regularizers `L1`, `L2` and `L1L2`: read from every form
 * `model.json` holds them in (tfjs-layers, Keras 2 and Keras 3 writers),
 * written back as tfjs-layers writes them, and their loss term
 * `l1 * sum(|w|) + l2 * sum(w^2)`.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import { describe, isDict, ModelFormatError } from "./config_values.ts";
import type { NamedWeight } from "./layer.ts";

/** An L1/L2 penalty; a zero factor leaves its term out. */
export interface Regularizer {
  /** Factor of `sum(|w|)`. */
  l1: number;
  /** Factor of `sum(w^2)`. */
  l2: number;
}

// Keras' defaults for a missing key: `L1()` and `L2()` take 0.01,
// `L1L2()` takes 0 for both. (tfjs-layers' L1L2 defaults a missing key to
// 0.01 instead, but it always writes both keys, so its files read the same
// either way.)
const DEFAULTS: Readonly<Record<string, Regularizer>> = {
  L1: { l1: 0.01, l2: 0 },
  L2: { l1: 0, l2: 0.01 },
  L1L2: { l1: 0, l2: 0 },
};

// String identifiers: "l1" and "l2" are 0.01 everywhere; "l1_l2" is
// Keras 2's `l1_l2()` (0.01 each, as tfjs-layers' "l1l2"), where Keras 3
// would take 0 for both.
const IDENTIFIERS: Readonly<Record<string, Regularizer>> = {
  l1: { l1: 0.01, l2: 0 },
  l2: { l1: 0, l2: 0.01 },
  l1_l2: { l1: 0.01, l2: 0.01 },
  l1l2: { l1: 0.01, l2: 0.01 },
};

function factor(v: unknown, fallback: number, what: string): number {
  if (v == null) return fallback;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) {
    throw new ModelFormatError(
      `${what} must be a finite number >= 0, got ${describe(v)}`,
    );
  }
  return v;
}

/**
 * Reads a `kernel_regularizer`-style value: `null`, a Keras identifier
 * string (`"l2"`), `{class_name: "L1L2", config: {l1, l2}}` (tfjs-layers,
 * Keras 2) or Keras 3's `{module: "keras.regularizers", class_name: "L2",
 * config: {l2}, registered_name}`. Null means no regularizer; one whose
 * factors are both 0 is kept, so that it is written back as it was read.
 * `what` names the setting in messages (`layer 'c' (Conv2D) kernel_regularizer`).
 */
export function readRegularizer(
  v: unknown,
  what: string,
): Regularizer | null {
  if (v == null) return null;
  if (typeof v === "string" && Object.hasOwn(IDENTIFIERS, v)) {
    return { ...IDENTIFIERS[v]! };
  }
  const className = isDict(v) && typeof v.class_name === "string"
    ? v.class_name
    : undefined;
  const defaults = className !== undefined && Object.hasOwn(DEFAULTS, className)
    ? DEFAULTS[className]
    : undefined;
  if (className === undefined || defaults === undefined) {
    throw new ModelFormatError(
      `${what} is ${describe(v)}; simdnet reads L1, L2 and L1L2 ` +
        `regularizers (or null)`,
    );
  }
  const config = isDict(v) && v.config != null ? v.config : {};
  if (!isDict(config)) {
    throw new ModelFormatError(
      `${what} config must be an object, got ${describe(config)}`,
    );
  }
  return {
    l1: className === "L2" ? 0 : factor(config.l1, defaults.l1, `${what} l1`),
    l2: className === "L1" ? 0 : factor(config.l2, defaults.l2, `${what} l2`),
  };
}

/**
 * Checks a regularizer given to a layer's constructor; throws a
 * `RangeError` naming `what` for a negative or non-finite factor.
 */
export function checkRegularizer(
  r: Regularizer | null | undefined,
  what: string,
): Regularizer | null {
  if (r == null) return null;
  for (const [key, value] of Object.entries(r)) {
    if (!Number.isFinite(value) || value < 0) {
      throw new RangeError(`${what} ${key} must be >= 0, got ${value}`);
    }
  }
  return { l1: r.l1, l2: r.l2 };
}

/**
 * The config tfjs-layers writes (and reads) for a regularizer: always
 * `L1L2` with both factors, since tfjs-layers registers no `L1` or `L2`
 * class; Keras reads it too.
 */
export function regularizerConfig(
  r: Regularizer | null,
): Record<string, unknown> | null {
  if (r === null) return null;
  return { class_name: "L1L2", config: { l1: r.l1, l2: r.l2 } };
}

/** `l1 * sum(|w|) + l2 * sum(w^2)`, or null when both factors are 0. */
export function penalty(r: Regularizer, w: tf.Tensor): tf.Scalar | null {
  if (r.l1 === 0 && r.l2 === 0) return null;
  return tf.tidy(() => {
    const terms: tf.Scalar[] = [];
    if (r.l1 !== 0) terms.push(tf.mul(r.l1, tf.sum(tf.abs(w))));
    if (r.l2 !== 0) terms.push(tf.mul(r.l2, tf.sum(tf.square(w))));
    return terms.length === 1 ? terms[0]! : tf.add(terms[0]!, terms[1]!);
  });
}

/**
 * The sum of the penalties of `pairs` (a weight and its regularizer), or
 * null when none applies: what a layer's `regularizationLoss` returns.
 */
export function weightPenalties(
  pairs: ReadonlyArray<readonly [NamedWeight | undefined, Regularizer | null]>,
): tf.Scalar | null {
  const active: [NamedWeight, Regularizer][] = [];
  for (const [weight, r] of pairs) {
    if (weight !== undefined && r !== null && (r.l1 !== 0 || r.l2 !== 0)) {
      active.push([weight, r]);
    }
  }
  if (active.length === 0) return null;
  // One tidy, so that no partial sum outlives the call.
  return tf.tidy(() => {
    const terms = active.map(([w, r]) => penalty(r, w.variable)!);
    return terms.length === 1 ? terms[0]! : tf.addN(terms) as tf.Scalar;
  });
}

/**
 * Throws unless a layer config's `activity_regularizer` is null: simdnet
 * adds weight penalties only.
 */
export function refuseActivityRegularizer(v: unknown, where: string): void {
  if (v != null) {
    throw new ModelFormatError(
      `${where} has activity_regularizer ${describe(v)}, which simdnet ` +
        `cannot train; set it to null`,
    );
  }
}
