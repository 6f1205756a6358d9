/**
 * What the optimizer flags of `deno task train` (train_optim.ts) make once
 * the run's data is known: the schedule (epochs become steps), the
 * callbacks, and the report's settings lines.
 *
 * @module
 */

import type { Callback } from "../train/callback.ts";
import type { FitOptions } from "../train/fit_options.ts";
import { ModelCheckpoint } from "../train/model_checkpoint.ts";
import { ReduceLROnPlateau } from "../train/reduce_lr_on_plateau.ts";
import {
  CosineDecay,
  ExponentialDecay,
  type LearningRateSchedule,
  PiecewiseConstantDecay,
  TriangularSchedule,
} from "../train/schedules.ts";
import type { OptimArgs } from "./train_optim.ts";
import { UsageError } from "./usage.ts";

/** The run `optimFitOptions` prepares for. */
export interface OptimRun {
  /** `--lr`. */
  lr: number;
  epochs: number;
  batchSize: number;
  /** Training images. */
  count: number;
  /** `--out`: ModelCheckpoint saves into `out/best`. */
  out: string;
  classNames: readonly string[];
}

/** `fit`'s optimizer, schedule, callbacks and label smoothing for the flags `a`. */
export function optimFitOptions(
  a: OptimArgs,
  run: OptimRun,
): Pick<FitOptions, "optimizer" | "schedule" | "callbacks" | "labelSmoothing"> {
  const stepsPerEpoch = Math.ceil(run.count / run.batchSize);
  return {
    optimizer: a.optimizer,
    schedule: makeSchedule(a, run.lr, run.epochs, stepsPerEpoch),
    callbacks: makeCallbacks(a, run.out, run.classNames),
    labelSmoothing: a.labelSmoothing,
  };
}

/** The schedule of `a` for a run of `epochs` epochs of `stepsPerEpoch` steps, or undefined for constant. */
export function makeSchedule(
  a: OptimArgs,
  lr: number,
  epochs: number,
  stepsPerEpoch: number,
): LearningRateSchedule | undefined {
  const p = a.scheduleParams;
  const steps = (e: number) => Math.round(e * stepsPerEpoch);
  const total = epochs * stepsPerEpoch;
  try {
    switch (a.schedule) {
      case "constant":
        return undefined;
      case "cosine": {
        const warmup = steps(p.warmupEpochs ?? 0);
        return new CosineDecay(
          warmup > 0
            ? {
              initialLearningRate: 0,
              warmupTarget: lr,
              warmupSteps: warmup,
              decaySteps: Math.max(1, total - warmup),
              alpha: p.minLrFraction,
            }
            : {
              initialLearningRate: lr,
              decaySteps: total,
              alpha: p.minLrFraction,
            },
        );
      }
      case "exponential":
        return new ExponentialDecay(
          lr,
          steps(p.decayEpochs) || 1,
          p.decayRate,
          p.staircase,
        );
      case "piecewise":
        return new PiecewiseConstantDecay(p.boundaries.map(steps), p.values);
      case "triangular":
        return new TriangularSchedule({
          initialLearningRate: p.startLr ?? lr / 5,
          peakLearningRate: lr,
          endLearningRate: p.endLr,
          warmupSteps: steps(p.warmupEpochs ?? 0.2 * epochs),
          totalSteps: total,
        });
    }
  } catch (error) {
    if (error instanceof RangeError) {
      throw new UsageError(`--schedule ${a.schedule}: ${error.message}`);
    }
    throw error;
  }
}

/** The callbacks of `a`: ReduceLROnPlateau on val_loss, ModelCheckpoint into `out/best`. */
export function makeCallbacks(
  a: OptimArgs,
  out: string,
  classNames: readonly string[],
): Callback[] {
  const callbacks: Callback[] = [];
  if (a.plateau) {
    callbacks.push(
      new ReduceLROnPlateau({ monitor: "val_loss", ...a.plateau }),
    );
  }
  if (a.saveBestOnly) {
    callbacks.push(
      new ModelCheckpoint({
        filepath: `${out}/best`,
        monitor: "val_loss",
        saveBestOnly: true,
        classNames,
      }),
    );
  }
  return callbacks;
}

/** The report's settings lines of these flags (only those not at their defaults). */
export function optimReport(
  a: OptimArgs,
): Record<string, string | number | boolean> {
  const o = a.optimizer as unknown as Record<string, unknown>;
  const lines: Record<string, string | number | boolean> = {};
  if (o.kind !== "adam") lines.optimizer = String(o.kind);
  if (o.momentum !== undefined) lines.momentum = o.momentum as number;
  if (o.nesterov) lines.nesterov = true;
  if (o.weightDecay !== undefined) {
    lines["weight decay"] = o.weightDecay as number;
  }
  if (a.schedule !== "constant") lines["learning-rate schedule"] = a.schedule;
  if (a.labelSmoothing > 0) lines["label smoothing"] = a.labelSmoothing;
  if (a.plateau) {
    lines["reduce lr on plateau"] =
      `factor ${a.plateau.factor}, patience ${a.plateau.patience}`;
  }
  return lines;
}
