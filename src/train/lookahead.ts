/**
 * The fast recipe's lookahead, airbench94's exponential moving average of
 * the weights: every `every` optimizer steps the slow copy moves toward
 * the trained ("fast") weights, `slow = decay * slow + (1 - decay) * fast`,
 * and training continues from it (`fast = slow`). The decay follows the
 * schedule `0.95^5 * (step / total)^3`: nearly no averaging early, when
 * the weights must move, and strong averaging at the end of the run,
 * where it smooths the last steps' noise; after the last step the model
 * takes the slow weights. It costs one pass over the weights every 5
 * steps.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

/** Options of {@linkcode Lookahead}. */
export interface LookaheadOptions {
  /** Steps between two updates; default 5, airbench's. */
  every?: number;
}

/**
 * airbench's decay after optimizer step `step` of `totalSteps`:
 * `base * (step / totalSteps)^3`, `base` defaulting to `0.95^5` (the decay
 * of a per-step average of 0.95 over 5 steps).
 */
export function lookaheadDecay(
  step: number,
  totalSteps: number,
  base = 0.95 ** 5,
): number {
  if (!(totalSteps > 0) || !(step >= 0)) {
    throw new RangeError(
      `lookaheadDecay needs step >= 0 and totalSteps > 0, got ${step} of ` +
        `${totalSteps}`,
    );
  }
  return base * Math.min(1, step / totalSteps) ** 3;
}

/** The slow copy of a model's weights and the lookahead update. */
export class Lookahead {
  readonly every: number;
  readonly #fast: tf.Variable[];
  #slow: tf.Variable[];

  /**
   * Copies `variables` as the slow weights. Pass every float weight of the
   * model, moving statistics included, as airbench averages its whole
   * `state_dict`; frozen weights stay as they are.
   */
  constructor(
    variables: readonly tf.Variable[],
    options: LookaheadOptions = {},
  ) {
    this.every = options.every ?? 5;
    if (!Number.isInteger(this.every) || this.every < 1) {
      throw new RangeError(
        `lookahead 'every' must be a whole number of steps >= 1, got ` +
          `${this.every}`,
      );
    }
    this.#fast = [...variables];
    this.#slow = this.#fast.map((v) => tf.variable(v, false));
  }

  /**
   * Call after optimizer step `step` (counted from 1): on every
   * `every`-th step, runs {@linkcode update} with `decay` and returns true.
   */
  afterStep(step: number, decay: number): boolean {
    if (step % this.every !== 0) return false;
    this.update(decay);
    return true;
  }

  /**
   * `slow = decay * slow + (1 - decay) * fast`, then `fast = slow`. With
   * decay 1 it puts the slow weights back into the model (the end of a
   * run); with 0 it copies the model into the slow weights.
   */
  update(decay: number): void {
    if (!(decay >= 0 && decay <= 1)) {
      throw new RangeError(`lookahead decay must be in [0, 1], got ${decay}`);
    }
    tf.tidy(() => {
      this.#fast.forEach((fast, i) => {
        const slow = this.#slow[i]!;
        slow.assign(tf.add(tf.mul(slow, decay), tf.mul(fast, 1 - decay)));
        fast.assign(slow);
      });
    });
  }

  /** Ends a run: the model takes the slow weights (`update(1)`). */
  finish(): void {
    this.update(1);
  }

  /** The slow weights' values, in the variables' order, e.g. for a checkpoint. */
  async state(): Promise<Float32Array[]> {
    return await Promise.all(
      this.#slow.map(async (v) => (await v.data()) as Float32Array),
    );
  }

  /** Restores slow weights read from {@linkcode state}. */
  restore(values: readonly Float32Array[]): void {
    if (
      values.length !== this.#slow.length ||
      values.some((v, i) => v.length !== this.#slow[i]!.size)
    ) {
      throw new RangeError(
        `lookahead state has ${values.length} arrays; the model has ` +
          `${this.#slow.length} weights of sizes ` +
          `${this.#slow.map((v) => v.size).join(", ")}`,
      );
    }
    tf.tidy(() =>
      this.#slow.forEach((v, i) => v.assign(tf.tensor(values[i]!, v.shape)))
    );
  }

  /** Frees the slow weights. */
  dispose(): void {
    for (const v of this.#slow) v.dispose();
    this.#slow = [];
  }
}
