/**
 * Keras' `ModelCheckpoint(filepath, monitor="val_loss",
 * save_best_only=False, mode="auto")`: saves the model (model.json and
 * weights, TF.js Layers format) into `filepath` at each epoch end, or with
 * `save_best_only` only when the monitored metric improved on the best so
 * far. `{epoch}` (or `{epoch:02d}`) in the path is the 1-based epoch.
 *
 * @module
 */

import { saveModel } from "../nn/model_io.ts";
import {
  type Callback,
  type CallbackContext,
  type CallbackState,
  finiteOrNull,
  type Monitor,
  resolveMode,
} from "./callback.ts";

/** Options of {@linkcode ModelCheckpoint}. */
export interface ModelCheckpointOptions {
  /** Directory to save the model into; may hold `{epoch}`. */
  filepath: string;
  /** Default `val_loss`. */
  monitor?: Monitor;
  /** Save only when the monitored metric improves; default false. */
  saveBestOnly?: boolean;
  /** Default `auto` (max for accuracies, min otherwise). */
  mode?: "auto" | "min" | "max";
  /** Class names to save with the model (as `saveModel` does). */
  classNames?: readonly string[];
}

/** Saves the model at epoch ends, or its best epoch only. */
export class ModelCheckpoint implements Callback {
  readonly className = "ModelCheckpoint";
  readonly filepath: string;
  readonly monitor: Monitor;
  readonly saveBestOnly: boolean;
  readonly mode: "min" | "max";
  readonly #classNames: readonly string[] | undefined;
  /** Best monitored value so far. */
  best: number;
  /** 1-based epoch of the last save (0: none). */
  savedEpoch = 0;

  /** Checks the options. */
  constructor(options: ModelCheckpointOptions) {
    if (!options.filepath) {
      throw new RangeError("ModelCheckpoint needs a filepath to save into");
    }
    this.filepath = options.filepath;
    this.monitor = options.monitor ?? "val_loss";
    this.saveBestOnly = options.saveBestOnly ?? false;
    this.mode = resolveMode(options.mode, this.monitor);
    this.#classNames = options.classNames;
    this.best = this.mode === "min" ? Infinity : -Infinity;
  }

  /** The directory of 0-based `epoch`. */
  pathOf(epoch: number): string {
    return this.filepath.replace(
      /\{epoch(?::0(\d)d)?\}/g,
      (_, width: string | undefined) =>
        String(epoch + 1).padStart(Number(width ?? 0), "0"),
    );
  }

  async onEpochEnd(
    epoch: number,
    logs: Readonly<Record<string, number | undefined>>,
    ctx: CallbackContext,
  ): Promise<void> {
    if (this.saveBestOnly) {
      const current = logs[this.monitor];
      if (current === undefined) return;
      const better = this.mode === "min"
        ? current < this.best
        : current > this.best;
      if (!better) return;
      ctx.print?.(
        `Epoch ${
          epoch + 1
        }: ${this.monitor} improved from ${this.best} to ${current}, saving model to ${
          this.pathOf(epoch)
        }`,
      );
      this.best = current;
    }
    await saveModel(
      ctx.model,
      this.pathOf(epoch),
      this.#classNames ? { classNames: [...this.#classNames] } : {},
    );
    this.savedEpoch = epoch + 1;
  }

  getState(): CallbackState {
    return { best: finiteOrNull(this.best), savedEpoch: this.savedEpoch };
  }

  setState(state: CallbackState): void {
    this.best = state.best ?? (this.mode === "min" ? Infinity : -Infinity);
    const saved = state.savedEpoch;
    if (typeof saved !== "number") {
      throw new Error("ModelCheckpoint state has no number 'savedEpoch'");
    }
    this.savedEpoch = saved;
  }

  getConfig(): Record<string, string | number | boolean> {
    return {
      filepath: this.filepath,
      monitor: this.monitor,
      save_best_only: this.saveBestOnly,
      mode: this.mode,
    };
  }
}
