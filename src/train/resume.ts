/**
 * Resuming `fit` from a checkpoint: the settings and data fingerprints the
 * run was trained with must match (or the resumed run would not be the
 * continuation of the saved one), and the saved tensors must fit the model.
 * Every refusal is a {@linkcode CheckpointError} with one line naming what
 * differs and the fix.
 *
 * @module
 */

import type { Model } from "../nn/model.ts";
import type { Callback } from "./callback.ts";
import { CheckpointError, type TrainState } from "./checkpoint.ts";
import type { Optimizer } from "./optimizer.ts";
import type { EarlyStopping } from "./early_stopping.ts";
import type { Rng } from "../util/random.ts";
import type { Lookahead } from "./lookahead.ts";

/** The settings a checkpoint records, as `fit` computes them. */
export type FitSettings = Record<string, string | number | boolean | null>;

/** Keys holding data fingerprints, and what they are called in messages. */
const DATA_KEYS: Record<string, string> = {
  trainData: "training data",
  validationData: "validation data",
};

function short(v: unknown): string {
  return typeof v === "string" && v.startsWith("sha256:")
    ? `${v.slice(0, 19)}…`
    : JSON.stringify(v ?? null);
}

/**
 * The error for resuming with `current` settings from a checkpoint at
 * `path` saved with `saved`, or null when they match. Epochs may differ: a
 * resumed run may train for more epochs than the saved one meant to.
 */
export function settingsMismatch(
  saved: FitSettings,
  current: FitSettings,
  path: string,
): CheckpointError | null {
  const keys = [...new Set([...Object.keys(current), ...Object.keys(saved)])];
  const differ = keys.filter((k) => saved[k] !== current[k]);
  if (differ.length === 0) return null;
  const data = differ.filter((k) => k in DATA_KEYS);
  const other = differ.filter((k) => !(k in DATA_KEYS));
  const sameCount = saved.trainCount === current.trainCount &&
    saved.validationCount === current.validationCount;
  const parts = [
    ...other.map((k) =>
      `${k} ${JSON.stringify(saved[k] ?? null)} -> ${
        JSON.stringify(current[k] ?? null)
      }`
    ),
    ...data.map((k) =>
      `${DATA_KEYS[k]} ${short(saved[k])} -> ${short(current[k])}${
        sameCount ? " (same size, other images or labels)" : ""
      }`
    ),
  ];
  const fix = data.length > 0
    ? "rerun with the settings and data it was trained with (same --data, " +
      "--limit, --val-split)"
    : "rerun with the same settings";
  return new CheckpointError(
    `cannot resume from ${path}: it was written with other ` +
      `${other.length > 0 ? "settings" : "data"}${
        other.length > 0 && data.length > 0 ? " and data" : ""
      } (${parts.join("; ")}); ${fix}, or start a new run without --resume`,
    "mismatch",
    parts.join("; "),
  );
}

/**
 * The error for resuming with `optimizer` from a checkpoint written by
 * another kind of optimizer (its state cannot continue this one's), or
 * null when the kinds match.
 */
export function otherOptimizer(
  state: TrainState,
  optimizer: Optimizer,
  path: string,
): CheckpointError | null {
  const saved = state.optimizer.kind;
  if (saved === optimizer.kind) return null;
  return new CheckpointError(
    `cannot resume from ${path}: it was trained with the ${saved} optimizer, ` +
      `not ${optimizer.kind}; rerun with --optimizer ${saved} (and its other ` +
      `settings), or start a new run without --resume`,
    "mismatch",
    `optimizer ${saved} -> ${optimizer.kind}`,
  );
}

/**
 * Puts a checkpoint's state into the model, optimizer, generator, early
 * stopping and callbacks; a checkpoint of another model is refused.
 */
export function restoreState(
  state: TrainState,
  path: string,
  into: {
    model: Model;
    optimizer: Optimizer;
    rng: Rng;
    early: EarlyStopping | null;
    callbacks?: readonly Callback[];
    lookahead?: Lookahead | null;
  },
): void {
  try {
    into.model.setWeights(state.weights);
    into.optimizer.setState(state.optimizer);
    if (into.lookahead) restoreLookahead(state, into.model, into.lookahead);
    into.rng.state = state.rngState;
    for (const cb of into.callbacks ?? []) {
      const saved = state.callbacks[cb.className];
      if (!saved) {
        throw new Error(`it holds no state of the ${cb.className} callback`);
      }
      cb.setState(saved);
    }
  } catch (error) {
    throw new CheckpointError(
      `cannot resume from ${path}: it does not fit this model (${
        (error as Error).message
      }); resume with the model it was trained with, or start a new run ` +
        `without --resume`,
      "mismatch",
      (error as Error).message,
    );
  }
  if (into.early && state.earlyStopping) {
    into.early.state = state.earlyStopping;
  }
}

/** Puts the checkpoint's slow weights, matched by name, into `lookahead`. */
function restoreLookahead(
  state: TrainState,
  model: Model,
  lookahead: Lookahead,
): void {
  const saved = state.lookahead;
  if (!saved || saved.every !== lookahead.every) {
    throw new Error(
      saved
        ? `its lookahead runs every ${saved.every} steps, not every ` +
          `${lookahead.every}`
        : "it holds no lookahead state",
    );
  }
  const byName = new Map(saved.slow.map((w) => [w.name, w.values]));
  lookahead.restore(model.weights.map((w) => {
    const values = byName.get(w.name);
    if (!values) throw new Error(`its lookahead has no '${w.name}'`);
    return values;
  }));
}
