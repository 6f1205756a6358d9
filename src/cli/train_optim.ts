/**
 * The optimizer, schedule, loss and callback flags of `deno task train`
 * (`--optimizer`, `--momentum`, `--nesterov`, `--weight-decay`,
 * `--bias-lr-mult`, `--schedule` and its parameters, `--label-smoothing`,
 * `--reduce-lr-on-plateau`, `--save-best-only`): parsed and checked into
 * what `fit` takes. Durations are in epochs on the command line and in
 * steps for `fit`, so the schedule is made once the data's size is known.
 *
 * @module
 */

import type { OptimizerKind } from "../train/optimizer.ts";
import { OPTIMIZER_KINDS, type OptimizerConfig } from "../train/optimizers.ts";
import { numberFlag, wholeFlag } from "./flags.ts";
import { UsageError } from "./usage.ts";

/** The schedules `--schedule` names. */
export const SCHEDULE_NAMES = [
  "constant",
  "cosine",
  "exponential",
  "piecewise",
  "triangular",
] as const;

/** A `--schedule` name. */
export type ScheduleName = typeof SCHEDULE_NAMES[number];

/** The `parseArgs` options of these flags. */
export const OPTIM_OPTIONS = {
  optimizer: { type: "string" },
  momentum: { type: "string" },
  nesterov: { type: "boolean", default: false },
  "weight-decay": { type: "string" },
  "bias-lr-mult": { type: "string" },
  schedule: { type: "string" },
  "warmup-epochs": { type: "string" },
  "min-lr-fraction": { type: "string" },
  "decay-rate": { type: "string" },
  "decay-epochs": { type: "string" },
  staircase: { type: "boolean", default: false },
  boundaries: { type: "string" },
  "lr-values": { type: "string" },
  "start-lr": { type: "string" },
  "end-lr": { type: "string" },
  "label-smoothing": { type: "string" },
  "reduce-lr-on-plateau": { type: "boolean", default: false },
  "plateau-factor": { type: "string" },
  "plateau-patience": { type: "string" },
  "min-lr": { type: "string" },
  "save-best-only": { type: "boolean", default: false },
} as const;

/** These flags' lines of the train usage text. */
export const OPTIM_USAGE = `
optimizer and schedule (Keras' names and defaults):
  --optimizer O      adam (default), adamw, sgd or rmsprop; --lr is its rate
                     (the peak rate of a schedule)
  --momentum X       sgd / rmsprop momentum in [0, 1) (default 0)
  --nesterov         sgd: Nesterov momentum (needs --momentum)
  --weight-decay X   decoupled weight decay, w -= lr * X * w each step
                     (default 0; adamw: 0.004)
  --bias-lr-mult X   biases and BatchNorm betas learn at X times the rate,
                     without weight decay (default: as the other weights)
  --schedule S       constant (default), cosine, exponential, piecewise or
                     triangular, stepped every batch
  --warmup-epochs E  cosine: linear warm-up from 0 to --lr over E epochs
                     triangular: epochs up to the peak (default 20% of --epochs)
  --min-lr-fraction X
                     cosine: the final rate as a fraction of --lr (default 0)
  --decay-rate X     exponential: the factor per --decay-epochs (default 0.5)
  --decay-epochs E   exponential: epochs per factor (default 1)
  --staircase        exponential: whole factors only
  --boundaries E,E   piecewise: the epochs after which the rate changes
  --lr-values X,X    piecewise: the rates, one more than boundaries
  --start-lr X       triangular: rate at step 0 (default --lr / 5)
  --end-lr X         triangular: rate at the end (default 0)
  --label-smoothing X
                     smooth the one-hot targets by X in [0, 1) (default 0)
  --reduce-lr-on-plateau
                     halve the rate when val_loss stalls (Keras' ReduceLROnPlateau)
  --plateau-factor X, --plateau-patience N, --min-lr X
                     its factor (default 0.5), patience (default 2), floor (0)
  --save-best-only   also save the model of the best val_loss epoch into OUT/best
`;

/** The flags' values as `parseArgs` gives them. */
export type OptimValues = {
  [K in keyof typeof OPTIM_OPTIONS]?: typeof OPTIM_OPTIONS[K]["type"] extends
    "boolean" ? boolean : string;
};

/** The flags, checked; the schedule and callbacks are made by {@linkcode optimRun}. */
export interface OptimArgs {
  optimizer: OptimizerConfig;
  schedule: ScheduleName;
  /** The schedule's parameters in epochs, as given. */
  scheduleParams: {
    warmupEpochs: number | undefined;
    minLrFraction: number;
    decayRate: number;
    decayEpochs: number;
    staircase: boolean;
    boundaries: number[];
    values: number[];
    startLr: number | undefined;
    endLr: number;
  };
  labelSmoothing: number;
  plateau: { factor: number; patience: number; minLr: number } | null;
  saveBestOnly: boolean;
}

const positive = (n: number) => n > 0 && Number.isFinite(n);
const nonNegative = (n: number) => n >= 0 && Number.isFinite(n);
const fraction = (n: number) => n >= 0 && n < 1;

function numberList(value: string | undefined, flag: string): number[] {
  if (value === undefined) return [];
  return value.split(",").map((part) => {
    const n = Number(part);
    if (part.trim() === "" || !nonNegative(n)) {
      throw new UsageError(
        `--${flag} must be numbers >= 0 separated by commas, got ${value}`,
      );
    }
    return n;
  });
}

/**
 * Flags that only mean something with a given `--optimizer` or
 * `--schedule` (or `--reduce-lr-on-plateau`): given elsewhere they are an
 * error naming what they need, not silently ignored.
 */
const NEEDS: Array<
  [string[], (k: string, s: string, p: boolean) => boolean, string]
> = [
  [
    ["momentum"],
    (k) => k === "sgd" || k === "rmsprop",
    "--optimizer sgd or rmsprop",
  ],
  [
    ["warmup-epochs"],
    (_, s) => s === "cosine" || s === "triangular",
    "--schedule cosine or triangular",
  ],
  [["min-lr-fraction"], (_, s) => s === "cosine", "--schedule cosine"],
  [
    ["decay-rate", "decay-epochs", "staircase"],
    (_, s) => s === "exponential",
    "--schedule exponential",
  ],
  [
    ["boundaries", "lr-values"],
    (_, s) => s === "piecewise",
    "--schedule piecewise",
  ],
  [
    ["start-lr", "end-lr"],
    (_, s) => s === "triangular",
    "--schedule triangular",
  ],
  [
    ["plateau-factor", "plateau-patience", "min-lr"],
    (_, __, p) => p,
    "--reduce-lr-on-plateau",
  ],
];

function oneOf<T extends string>(
  value: string | undefined,
  fallback: T,
  allowed: readonly T[],
  flag: string,
): T {
  const v = (value ?? fallback) as T;
  if (!allowed.includes(v)) {
    throw new UsageError(
      `--${flag} must be one of ${allowed.join(", ")}, got ${value}`,
    );
  }
  return v;
}

/** `--optimizer` and its options as an {@linkcode OptimizerConfig}. */
function optimizerConfig(
  v: OptimValues,
  kind: OptimizerKind,
  lr: number,
): OptimizerConfig {
  const momentum = numberFlag(v.momentum, "momentum", fraction, "in [0, 1)");
  if (v.nesterov && !(kind === "sgd" && (momentum ?? 0) > 0)) {
    throw new UsageError("--nesterov needs --optimizer sgd and --momentum > 0");
  }
  const weightDecay = numberFlag(
    v["weight-decay"],
    "weight-decay",
    nonNegative,
    "a number >= 0",
  );
  const mult = numberFlag(
    v["bias-lr-mult"],
    "bias-lr-mult",
    positive,
    "a number > 0",
  );
  return {
    kind,
    learningRate: lr,
    ...(momentum === undefined ? {} : { momentum }),
    ...(v.nesterov ? { nesterov: true } : {}),
    ...(weightDecay === undefined ? {} : { weightDecay }),
    // Biases and BatchNorm betas: their own rate, never decayed (as the
    // fast recipe of issue #14 trains them).
    ...(mult === undefined ? {} : {
      paramGroups: [{
        match: "/(bias|beta)$",
        learningRateMultiplier: mult,
        weightDecay: 0,
      }],
    }),
  } as OptimizerConfig;
}

/** The schedule's parameters, in epochs. */
function scheduleParams(
  v: OptimValues,
  schedule: ScheduleName,
): OptimArgs["scheduleParams"] {
  const boundaries = numberList(v.boundaries, "boundaries");
  const values = numberList(v["lr-values"], "lr-values");
  if (
    schedule === "piecewise" &&
    (values.length !== boundaries.length + 1 || values.some((x) => x <= 0))
  ) {
    throw new UsageError(
      `--lr-values must be ${
        boundaries.length + 1
      } rates > 0 (one more than --boundaries), got ${
        v["lr-values"] ?? "none"
      }`,
    );
  }
  const num = (
    flag: keyof OptimValues,
    ok: (n: number) => boolean,
    want: string,
  ) => numberFlag(v[flag] as string | undefined, flag, ok, want);
  return {
    warmupEpochs: num("warmup-epochs", nonNegative, "a number >= 0"),
    minLrFraction:
      num("min-lr-fraction", (n) => n >= 0 && n <= 1, "in [0, 1]") ?? 0,
    decayRate: num("decay-rate", positive, "a number > 0") ?? 0.5,
    decayEpochs: num("decay-epochs", positive, "a number > 0") ?? 1,
    staircase: v.staircase ?? false,
    boundaries,
    values,
    startLr: num("start-lr", nonNegative, "a number >= 0"),
    endLr: num("end-lr", nonNegative, "a number >= 0") ?? 0,
  };
}

/** Checks the optimizer, schedule, loss and callback flags; `lr` is `--lr`. */
export function optimFlags(v: OptimValues, lr: number): OptimArgs {
  const kind = oneOf(v.optimizer, "adam", OPTIMIZER_KINDS, "optimizer");
  const schedule = oneOf(v.schedule, "constant", SCHEDULE_NAMES, "schedule");
  const plateau = v["reduce-lr-on-plateau"] ?? false;
  for (const [flags, ok, what] of NEEDS) {
    const given = flags.find((f) => {
      const x = v[f as keyof OptimValues];
      return x !== undefined && x !== false;
    });
    if (given !== undefined && !ok(kind, schedule, plateau)) {
      throw new UsageError(`--${given} needs ${what}`);
    }
  }
  return {
    optimizer: optimizerConfig(v, kind, lr),
    schedule,
    scheduleParams: scheduleParams(v, schedule),
    labelSmoothing: numberFlag(
      v["label-smoothing"],
      "label-smoothing",
      fraction,
      "in [0, 1)",
    ) ?? 0,
    plateau: plateau
      ? {
        factor: numberFlag(v["plateau-factor"], "plateau-factor", (n) =>
          n > 0 && n < 1, "in (0, 1)") ?? 0.5,
        patience: wholeFlag(v["plateau-patience"], "plateau-patience", 0) ?? 2,
        minLr:
          numberFlag(v["min-lr"], "min-lr", nonNegative, "a number >= 0") ?? 0,
      }
      : null,
    saveBestOnly: v["save-best-only"] ?? false,
  };
}
