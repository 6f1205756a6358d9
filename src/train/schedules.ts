/**
 * Learning-rate schedules, Keras' `LearningRateSchedule`s: a function of
 * the training step (the number of updates already applied, Keras'
 * `optimizer.iterations`, so the first update uses step 0).
 *
 * @module
 */

/** A learning rate as a function of the step. */
export interface LearningRateSchedule {
  /** Keras' class name, e.g. `CosineDecay`. */
  readonly className: string;
  /** The learning rate of the update at 0-based `step`. */
  at(step: number): number;
  /** Keras' config (snake_case keys). */
  getConfig(): Record<string, number | boolean | number[] | null>;
}

function check(what: string, value: number, ok: boolean, range: string) {
  if (!ok || !Number.isFinite(value)) {
    throw new RangeError(
      `${what} ${value} is out of range; it must be ${range}`,
    );
  }
  return value;
}

/** Keras' `ExponentialDecay`: `lr0 * rate^(step / decay_steps)` (floored with staircase). */
export class ExponentialDecay implements LearningRateSchedule {
  readonly className = "ExponentialDecay";
  /** Checks the options. */
  constructor(
    readonly initialLearningRate: number,
    readonly decaySteps: number,
    readonly decayRate: number,
    readonly staircase = false,
  ) {
    check(
      "ExponentialDecay initial rate",
      initialLearningRate,
      initialLearningRate > 0,
      "> 0",
    );
    check("ExponentialDecay decay steps", decaySteps, decaySteps > 0, "> 0");
    check("ExponentialDecay decay rate", decayRate, decayRate > 0, "> 0");
  }
  at(step: number): number {
    const p = step / this.decaySteps;
    return this.initialLearningRate *
      this.decayRate ** (this.staircase ? Math.floor(p) : p);
  }
  getConfig(): Record<string, number | boolean | number[] | null> {
    return {
      initial_learning_rate: this.initialLearningRate,
      decay_steps: this.decaySteps,
      decay_rate: this.decayRate,
      staircase: this.staircase,
    };
  }
}

/** Options of {@linkcode CosineDecay}, Keras 3's. */
export interface CosineDecayOptions {
  initialLearningRate: number;
  /** Steps of the cosine part (after the warm-up). */
  decaySteps: number;
  /** Final rate as a fraction of the decayed-from rate; default 0. */
  alpha?: number;
  /** Rate reached at the end of the warm-up; null: no warm-up. */
  warmupTarget?: number | null;
  /** Linear warm-up steps from the initial rate to `warmupTarget`; default 0. */
  warmupSteps?: number;
}

/**
 * Keras 3's `CosineDecay`: without `warmupTarget`,
 * `lr0 * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, D) / D)) + alpha)`;
 * with it, a linear warm-up from `lr0` to the target over `warmupSteps`,
 * then the same cosine from the target over `decaySteps`.
 */
export class CosineDecay implements LearningRateSchedule {
  readonly className = "CosineDecay";
  readonly initialLearningRate: number;
  readonly decaySteps: number;
  readonly alpha: number;
  readonly warmupTarget: number | null;
  readonly warmupSteps: number;
  /** Checks the options. */
  constructor(o: CosineDecayOptions) {
    this.initialLearningRate = check(
      "CosineDecay initial rate",
      o.initialLearningRate,
      o.initialLearningRate >= 0,
      ">= 0",
    );
    this.decaySteps = check(
      "CosineDecay decay steps",
      o.decaySteps,
      o.decaySteps > 0,
      "> 0",
    );
    this.alpha = check(
      "CosineDecay alpha",
      o.alpha ?? 0,
      (o.alpha ?? 0) >= 0 && (o.alpha ?? 0) <= 1,
      "in [0, 1]",
    );
    this.warmupTarget = o.warmupTarget ?? null;
    if (this.warmupTarget !== null) {
      check(
        "CosineDecay warmup target",
        this.warmupTarget,
        this.warmupTarget > 0,
        "> 0",
      );
    }
    this.warmupSteps = check(
      "CosineDecay warmup steps",
      o.warmupSteps ?? 0,
      (o.warmupSteps ?? 0) >= 0,
      ">= 0",
    );
  }
  #decay(step: number, from: number): number {
    const cosine = 0.5 * (1 + Math.cos(Math.PI * (step / this.decaySteps)));
    return from * ((1 - this.alpha) * cosine + this.alpha);
  }
  at(step: number): number {
    if (this.warmupTarget === null) {
      return this.#decay(
        Math.min(step, this.decaySteps),
        this.initialLearningRate,
      );
    }
    const s = Math.min(step, this.decaySteps + this.warmupSteps);
    if (s < this.warmupSteps) {
      const delta = this.warmupTarget - this.initialLearningRate;
      return delta * (s / this.warmupSteps) + this.initialLearningRate;
    }
    return this.#decay(s - this.warmupSteps, this.warmupTarget);
  }
  getConfig(): Record<string, number | boolean | number[] | null> {
    return {
      initial_learning_rate: this.initialLearningRate,
      decay_steps: this.decaySteps,
      alpha: this.alpha,
      warmup_target: this.warmupTarget,
      warmup_steps: this.warmupSteps,
    };
  }
}

/**
 * Keras' `PiecewiseConstantDecay(boundaries, values)`: `values[0]` while
 * `step <= boundaries[0]`, `values[i]` while `boundaries[i-1] < step <=
 * boundaries[i]`, the last value after the last boundary.
 */
export class PiecewiseConstantDecay implements LearningRateSchedule {
  readonly className = "PiecewiseConstantDecay";
  /** Checks that there is one more value than boundaries, boundaries increasing. */
  constructor(readonly boundaries: number[], readonly values: number[]) {
    if (values.length !== boundaries.length + 1) {
      throw new RangeError(
        `PiecewiseConstantDecay needs one more value than boundaries, got ${values.length} values for ${boundaries.length} boundaries`,
      );
    }
    boundaries.forEach((b, i) =>
      check(
        "PiecewiseConstantDecay boundary",
        b,
        b >= 0 && (i === 0 || b > boundaries[i - 1]!),
        "increasing and >= 0",
      )
    );
    values.forEach((v) =>
      check("PiecewiseConstantDecay value", v, v > 0, "> 0")
    );
  }
  at(step: number): number {
    const i = this.boundaries.findIndex((b) => step <= b);
    return this.values[i === -1 ? this.values.length - 1 : i]!;
  }
  getConfig(): Record<string, number | boolean | number[] | null> {
    return { boundaries: [...this.boundaries], values: [...this.values] };
  }
}

/** Options of {@linkcode TriangularSchedule}. */
export interface TriangularOptions {
  /** Rate at step 0. */
  initialLearningRate: number;
  /** Rate at the end of the warm-up. */
  peakLearningRate: number;
  /** Rate at `totalSteps` and after. */
  endLearningRate: number;
  /** Steps of the linear warm-up. */
  warmupSteps: number;
  /** Step where the linear decay ends. */
  totalSteps: number;
}

/**
 * A triangular (one-cycle) schedule, as airbench's `np.interp(step,
 * [0, warmup, total], [initial, peak, end])`: linear up to the peak, then
 * linear down to the end value, constant after.
 */
export class TriangularSchedule implements LearningRateSchedule {
  readonly className = "TriangularSchedule";
  readonly options: Readonly<TriangularOptions>;
  /** Checks the options. */
  constructor(o: TriangularOptions) {
    for (
      const k of [
        "initialLearningRate",
        "peakLearningRate",
        "endLearningRate",
      ] as const
    ) {
      check(`TriangularSchedule ${k}`, o[k], o[k] >= 0, ">= 0");
    }
    check(
      "TriangularSchedule peakLearningRate",
      o.peakLearningRate,
      o.peakLearningRate > 0,
      "> 0",
    );
    check(
      "TriangularSchedule warmupSteps",
      o.warmupSteps,
      o.warmupSteps >= 0,
      ">= 0",
    );
    check(
      "TriangularSchedule totalSteps",
      o.totalSteps,
      o.totalSteps > o.warmupSteps,
      "> warmupSteps",
    );
    this.options = { ...o };
  }
  at(step: number): number {
    const o = this.options;
    if (step <= 0) {
      return o.warmupSteps === 0 ? o.peakLearningRate : o.initialLearningRate;
    }
    if (step < o.warmupSteps) {
      return o.initialLearningRate +
        (o.peakLearningRate - o.initialLearningRate) * (step / o.warmupSteps);
    }
    if (step >= o.totalSteps) return o.endLearningRate;
    return o.peakLearningRate + (o.endLearningRate - o.peakLearningRate) *
        ((step - o.warmupSteps) / (o.totalSteps - o.warmupSteps));
  }
  getConfig(): Record<string, number | boolean | number[] | null> {
    const o = this.options;
    return {
      initial_learning_rate: o.initialLearningRate,
      peak_learning_rate: o.peakLearningRate,
      end_learning_rate: o.endLearningRate,
      warmup_steps: o.warmupSteps,
      total_steps: o.totalSteps,
    };
  }
}
