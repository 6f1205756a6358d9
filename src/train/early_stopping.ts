/**
 * Keras' `EarlyStopping(monitor, patience, min_delta)`: stop when the
 * monitored metric has not improved for `patience` epochs.
 *
 * @module
 */

import type { EarlyStoppingState } from "./checkpoint.ts";

/** Options of early stopping. */
export interface EarlyStoppingOptions {
  /** Metric to watch; default `val_loss`. */
  monitor?: "loss" | "accuracy" | "val_loss" | "val_accuracy";
  /** Epochs without improvement before stopping; default 0 (Keras' default). */
  patience?: number;
  /** Smallest change that counts as an improvement; default 0. */
  minDelta?: number;
}

/** Early stopping's decision logic; its state is saved in checkpoints. */
export class EarlyStopping {
  readonly monitor: NonNullable<EarlyStoppingOptions["monitor"]>;
  readonly patience: number;
  readonly minDelta: number;
  state: EarlyStoppingState = { best: null, wait: 0 };

  /** Validates the options. */
  constructor(options: EarlyStoppingOptions = {}) {
    this.monitor = options.monitor ?? "val_loss";
    this.patience = options.patience ?? 0;
    this.minDelta = Math.abs(options.minDelta ?? 0);
    if (!Number.isInteger(this.patience) || this.patience < 0) {
      throw new RangeError(
        `early-stopping patience must be a whole number >= 0, got ${options.patience}`,
      );
    }
  }

  /** Accuracy improves upwards, losses downwards (Keras' `mode='auto'`). */
  get higherIsBetter(): boolean {
    return this.monitor.endsWith("accuracy");
  }

  /**
   * Records an epoch's value of the monitored metric and returns whether
   * training should stop.
   */
  update(value: number, epochIndex: number): boolean {
    const { best } = this.state;
    const improved = best === null ||
      (this.higherIsBetter
        ? value > best + this.minDelta
        : value < best - this.minDelta);
    this.state.wait += 1;
    if (improved) this.state = { best: value, wait: 0 };
    // Like Keras, never stop after the very first epoch.
    return this.state.wait >= this.patience && epochIndex > 0;
  }
}
