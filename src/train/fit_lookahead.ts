/**
 * `fit`'s lookahead option: the update after each optimizer step, the
 * finish at the run's last step, and the slow weights for the checkpoint.
 *
 * @module
 */

import type { Model, WeightValues } from "../nn/model.ts";
import type { LookaheadSettings } from "./fit_options.ts";
import { type Lookahead, lookaheadDecay } from "./lookahead.ts";

/**
 * The lookahead after a step (`run.step` counts it): the update every
 * `every` steps, and at the run's last step the model takes the slow
 * weights, as airbench ends.
 */
export function lookaheadStep(
  settings: Required<LookaheadSettings> | null,
  steps: number,
  run: { step: number; lookahead: Lookahead | null },
): void {
  const la = run.lookahead;
  if (!la || !settings) return;
  la.afterStep(run.step, lookaheadDecay(run.step, steps, settings.base));
  if (run.step === steps) la.finish();
}

/** The slow weights named and shaped as the model's weights. */
export async function lookaheadWeights(
  model: Model,
  lookahead: Lookahead,
): Promise<WeightValues[]> {
  const values = await lookahead.state();
  return model.weights.map((w, i) => ({
    name: w.name,
    shape: [...w.variable.shape],
    values: values[i]!,
  }));
}
