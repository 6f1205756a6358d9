/**
 * Optimizers by configuration: `fit` takes an {@linkcode OptimizerConfig}
 * (not an instance) because it makes a fresh optimizer over the trainable
 * weights of each phase and restores its state on resume.
 *
 * @module
 */

import type { NamedWeight } from "../nn/layer.ts";
import { Adam, type AdamOptions, AdamW } from "./adam.ts";
import type { Optimizer, OptimizerKind } from "./optimizer.ts";
import { RMSprop, type RmspropOptions } from "./rmsprop.ts";
import { SGD, type SgdOptions } from "./sgd.ts";

/** Which optimizer `fit` uses, with its options (Keras' defaults when omitted). */
export type OptimizerConfig =
  | ({ kind: "adam" } & AdamOptions)
  | ({ kind: "adamw" } & AdamOptions)
  | ({ kind: "sgd" } & SgdOptions)
  | ({ kind: "rmsprop" } & RmspropOptions);

/** The optimizer kinds, for flags and messages. */
export const OPTIMIZER_KINDS: readonly OptimizerKind[] = [
  "sgd",
  "adam",
  "adamw",
  "rmsprop",
];

/** A new optimizer of `config` over `weights`. */
export function makeOptimizer(
  weights: readonly NamedWeight[],
  config: OptimizerConfig,
): Optimizer {
  const { kind, ...options } = config;
  switch (kind) {
    case "adam":
      return new Adam(weights, options);
    case "adamw":
      return new AdamW(weights, options);
    case "sgd":
      return new SGD(weights, options);
    case "rmsprop":
      return new RMSprop(weights, options);
    default:
      throw new RangeError(
        `unknown optimizer '${kind}'; use one of ${OPTIMIZER_KINDS.join(", ")}`,
      );
  }
}
