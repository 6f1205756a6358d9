/**
 * Keras' `ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=10,
 * mode="auto", min_delta=1e-4, cooldown=0, min_lr=0)`: when the monitored
 * metric has not improved by `min_delta` for `patience` epochs (outside a
 * cooldown), the learning rate becomes `max(lr * factor, min_lr)`, if it is
 * above `min_lr`, and a cooldown of `cooldown` epochs starts.
 *
 * With a schedule, the reduction is a factor on the schedule's rate (Keras
 * refuses to combine the two): the rate is `max(schedule(step) * scale,
 * min_lr)` once reduced, where `scale` is the product of the factors so far.
 * Without one this is Keras' rate up to rounding (`lr * factor^k` instead
 * of k successive products).
 *
 * @module
 */

import {
  type Callback,
  type CallbackContext,
  type CallbackState,
  finiteOrNull,
  type Monitor,
  resolveMode,
} from "./callback.ts";

/** Options of {@linkcode ReduceLROnPlateau}; Keras' defaults when omitted. */
export interface ReduceLROnPlateauOptions {
  /** Default `val_loss`. */
  monitor?: Monitor;
  /** Multiplies the rate on a plateau, in (0, 1); default 0.1. */
  factor?: number;
  /** Epochs without improvement before a reduction; default 10. */
  patience?: number;
  /** Default `auto` (max for accuracies, min otherwise). */
  mode?: "auto" | "min" | "max";
  /** Smallest change that counts as an improvement; default 1e-4. */
  minDelta?: number;
  /** Epochs after a reduction during which no plateau is counted; default 0. */
  cooldown?: number;
  /** Lower bound of the rate; default 0. */
  minLr?: number;
}

function whole(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 0) {
    throw new RangeError(
      `ReduceLROnPlateau ${name} must be a whole number >= 0, got ${v}`,
    );
  }
  return v;
}

/** Lowers the learning rate when a metric stops improving. */
export class ReduceLROnPlateau implements Callback {
  readonly className = "ReduceLROnPlateau";
  readonly monitor: Monitor;
  readonly factor: number;
  readonly patience: number;
  readonly mode: "min" | "max";
  readonly minDelta: number;
  readonly cooldown: number;
  readonly minLr: number;
  /** Best monitored value so far. */
  best: number;
  /** Epochs without improvement. */
  wait = 0;
  /** Epochs of cooldown left. */
  cooldownCounter = 0;
  /** Product of the reductions so far (1: none). */
  scale = 1;

  /** Checks the options. */
  constructor(options: ReduceLROnPlateauOptions = {}) {
    this.monitor = options.monitor ?? "val_loss";
    this.factor = options.factor ?? 0.1;
    if (!(this.factor > 0 && this.factor < 1)) {
      throw new RangeError(
        `ReduceLROnPlateau factor must be in (0, 1), got ${options.factor}`,
      );
    }
    this.patience = whole("patience", options.patience ?? 10);
    this.cooldown = whole("cooldown", options.cooldown ?? 0);
    this.mode = resolveMode(options.mode, this.monitor);
    this.minDelta = Math.abs(options.minDelta ?? 1e-4);
    this.minLr = options.minLr ?? 0;
    if (!(this.minLr >= 0) || !Number.isFinite(this.minLr)) {
      throw new RangeError(
        `ReduceLROnPlateau minLr must be a number >= 0, got ${options.minLr}`,
      );
    }
    this.best = this.mode === "min" ? Infinity : -Infinity;
  }

  #improved(current: number): boolean {
    return this.mode === "min"
      ? current < this.best - this.minDelta
      : current > this.best + this.minDelta;
  }

  onEpochEnd(
    epoch: number,
    logs: Readonly<Record<string, number | undefined>>,
    ctx: CallbackContext,
  ): void {
    const current = logs[this.monitor];
    if (current === undefined) return;
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.wait = 0;
    }
    if (this.#improved(current)) {
      this.best = current;
      this.wait = 0;
      return;
    }
    if (this.cooldownCounter > 0) return;
    this.wait++;
    if (this.wait < this.patience) return;
    const old = ctx.learningRate;
    if (old > Math.fround(this.minLr)) {
      this.scale *= this.factor;
      this.cooldownCounter = this.cooldown;
      this.wait = 0;
      ctx.print?.(
        `Epoch ${epoch + 1}: ReduceLROnPlateau reducing learning rate to ${
          Math.max(old * this.factor, this.minLr)
        }.`,
      );
    }
  }

  adjustLearningRate(lr: number): number {
    return this.scale === 1 ? lr : Math.max(lr * this.scale, this.minLr);
  }

  getState(): CallbackState {
    return {
      best: finiteOrNull(this.best),
      wait: this.wait,
      cooldownCounter: this.cooldownCounter,
      scale: this.scale,
    };
  }

  setState(state: CallbackState): void {
    const n = (k: string) => {
      const v = state[k];
      if (typeof v !== "number") {
        throw new Error(`ReduceLROnPlateau state has no number '${k}'`);
      }
      return v;
    };
    this.best = state.best ?? (this.mode === "min" ? Infinity : -Infinity);
    this.wait = n("wait");
    this.cooldownCounter = n("cooldownCounter");
    this.scale = n("scale");
  }

  getConfig(): Record<string, string | number | boolean> {
    return {
      monitor: this.monitor,
      factor: this.factor,
      patience: this.patience,
      mode: this.mode,
      min_delta: this.minDelta,
      cooldown: this.cooldown,
      min_lr: this.minLr,
    };
  }
}
