/**
 * The callbacks `fit` runs at each epoch end (Keras' `callbacks=[...]`),
 * whose state a checkpoint keeps so a resumed run decides as the
 * uninterrupted one would.
 *
 * @module
 */

import type { Model } from "../nn/model.ts";

/** A callback's saved state: numbers (or null for "none yet"). */
export type CallbackState = Record<string, number | null>;

/** The metrics a callback can monitor. */
export type Monitor =
  | "loss"
  | "accuracy"
  | "val_loss"
  | "val_accuracy"
  | "learning_rate";

/** What a callback sees at an epoch end. */
export interface CallbackContext {
  model: Model;
  /** The learning rate of the epoch's last step. */
  learningRate: number;
  /** Where one-line notices go (e.g. "reducing learning rate"), or null when silent. */
  print: ((line: string) => void) | null;
}

/** A callback of `fit`. */
export interface Callback {
  /** Keras' class name; also its key in the checkpoint (one of each kind). */
  readonly className: string;
  /** The monitored metric, checked against the run's logs before training. */
  readonly monitor: Monitor;
  /** Runs after 0-based `epoch` with its logs. */
  onEpochEnd(
    epoch: number,
    logs: Readonly<Record<string, number | undefined>>,
    ctx: CallbackContext,
  ): void | Promise<void>;
  /**
   * The learning rate to use instead of the schedule's `lr`, for callbacks
   * that control it (ReduceLROnPlateau).
   */
  adjustLearningRate?(lr: number): number;
  /** The state to save. */
  getState(): CallbackState;
  /** Restores a state from {@linkcode Callback.getState}. */
  setState(state: CallbackState): void;
  /** Keras' config, for the settings a resume must match. */
  getConfig(): Record<string, string | number | boolean>;
}

/**
 * Keras' `mode="auto"`: metrics named like accuracy improve upwards,
 * everything else downwards.
 */
export function resolveMode(
  mode: "auto" | "min" | "max" | undefined,
  monitor: string,
): "min" | "max" {
  const m = mode ?? "auto";
  if (m !== "auto" && m !== "min" && m !== "max") {
    throw new RangeError(`mode '${m}' is not auto, min or max`);
  }
  if (m !== "auto") return m;
  return monitor.includes("acc") ? "max" : "min";
}

/** JSON has no infinity: a best of +-Infinity is saved as null. */
export function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}
