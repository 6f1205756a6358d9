/**
 * `deno task train --recipe fast [--width X]`: the recipe flags. `seed`
 * (the default) is the seed notebook's run, unchanged; `fast` is issue
 * #14's recipe (src/train/recipes.ts): the whitened fast network, SGD with
 * Nesterov momentum and the BatchNorm offsets at 64x, the triangular
 * schedule, label smoothing 0.2, the alternating flip and translation,
 * lookahead, 9.9 epochs of batches of 1024, and TTA (mirror and
 * translations) at the end. `--epochs` may then be fractional and
 * `--batch-size`, `--seed`, `--limit` apply; the flags that would replace
 * one of the recipe's parts are refused (use the API to change a part).
 *
 * @module
 */

import type { ImageSet } from "../data/image_set.ts";
import type { FitOptions } from "../train/fit_options.ts";
import type { Sequential } from "../nn/sequential.ts";
import {
  type FastRecipe,
  recipeFitOptions,
  recipes,
} from "../train/recipes.ts";
import { numberFlag } from "./flags.ts";
import { UsageError } from "./usage.ts";

/** The recipes `--recipe` names. */
export const RECIPE_NAMES = ["seed", "fast"] as const;

/** A `--recipe` name. */
export type RecipeName = typeof RECIPE_NAMES[number];

/** The `parseArgs` options of these flags. */
export const RECIPE_OPTIONS = {
  recipe: { type: "string" },
  width: { type: "string" },
} as const;

/** These flags' lines of the train usage text. */
export const RECIPE_USAGE = `
recipe:
  --recipe R         seed (default: the seed notebook's CNN, Adam, 5 epochs)
                     or fast (after airbench94: the whitened fast network,
                     SGD with Nesterov momentum, triangular schedule, label
                     smoothing 0.2, flip/translate, lookahead, TTA; 9.9
                     epochs of batches of 1024; --epochs may be fractional)
  --width X          fast: multiplies the widths 64/256/256 (default 1;
                     0.5 is the small network)
`;

/** Parsed recipe flags. */
export interface RecipeArgs {
  name: RecipeName;
  /** `--width`, fast only. */
  width: number | undefined;
}

/** Flags a recipe sets itself: giving them with `--recipe fast` is an error. */
const RECIPE_SETS = [
  "lr",
  "no-augment",
  "optimizer",
  "momentum",
  "nesterov",
  "weight-decay",
  "bias-lr-mult",
  "schedule",
  "label-smoothing",
  "reduce-lr-on-plateau",
  "model",
  "from",
  "freeze",
  "new-head",
  "fine-tune-epochs",
];

/** Parses `--recipe` and `--width`, checking them against the other flags `v`. */
export function recipeFlags(
  v: Record<string, unknown> & { recipe?: string; width?: string },
): RecipeArgs {
  const name = (v.recipe ?? "seed") as RecipeName;
  if (!RECIPE_NAMES.includes(name)) {
    throw new UsageError(
      `--recipe must be one of ${RECIPE_NAMES.join(", ")}, got '${v.recipe}'`,
    );
  }
  const width = numberFlag(
    v.width,
    "width",
    (n) => n > 0 && n <= 4,
    "a number in (0, 4]",
  );
  if (name !== "fast") {
    if (width !== undefined) {
      throw new UsageError("--width needs --recipe fast");
    }
    return { name, width };
  }
  const set = RECIPE_SETS.find((k) => v[k] !== undefined && v[k] !== false);
  if (set !== undefined) {
    throw new UsageError(
      `--recipe fast sets what --${set} would change; drop --${set}, or ` +
        `change the part through the API (recipes.fast)`,
    );
  }
  return { name, width };
}

/** `--epochs` of the fast recipe: a number > 0, default 9.9. */
export function recipeEpochs(value: string | undefined): number {
  return numberFlag(
    value,
    "epochs",
    (n) => n > 0 && n <= 1000,
    "a number of epochs in (0, 1000]",
  ) ?? 9.9;
}

/** What `train` runs for `--recipe fast`. */
export interface FastRun {
  recipe: FastRecipe;
  model: Sequential;
  /** `fit`'s options of the recipe (add validation and checkpoint). */
  fitOptions: FitOptions;
  /** The report's settings lines of the recipe. */
  report: Record<string, string | number | boolean>;
}

/** The fast recipe for `train` with the command line's numbers. */
export function fastRun(
  train: ImageSet,
  a: {
    recipe: RecipeArgs;
    epochs: number;
    batchSize: number;
    seed: number;
    classes: number;
  },
): FastRun {
  const recipe = recipes.fast(train, {
    width: a.recipe.width,
    seed: a.seed,
    batchSize: a.batchSize,
    epochs: a.epochs,
    classes: a.classes,
  });
  const s = recipe.settings;
  return {
    recipe,
    model: recipe.model,
    fitOptions: recipeFitOptions(recipe),
    report: {
      recipe: "fast",
      width: a.recipe.width ?? 1,
      "learning rate": Number(s.learningRate.toPrecision(4)),
      augmentation: "alternating flip, translation by 2 pixels",
      optimizer: `SGD, Nesterov momentum ${s.momentum}`,
      "BatchNorm offsets' rate": `x${s.biasLearningRate / s.learningRate}`,
      "decoupled decay per step": Number(
        s.decoupledDecayPerStep.toPrecision(4),
      ),
      schedule: "triangular",
      "label smoothing": recipe.labelSmoothing,
      "training steps": recipe.totalSteps,
      lookahead: `every ${recipe.lookahead.every} steps`,
    },
  };
}
