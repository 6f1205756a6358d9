/**
 * The test-time augmentation flags `evaluate`, `classify` and `serve`
 * share: `--tta` averages each image with its mirror, `--tta-translate`
 * adds the one-pixel translations (and implies `--tta`); `serve` also
 * reads them from `SIMDNET_TTA` and `SIMDNET_TTA_TRANSLATE` (`1` or `0`).
 *
 * @module
 */

import type { TtaOptions } from "../train/tta.ts";
import { UsageError } from "./usage.ts";

/** The `parseArgs` options of the TTA flags (no defaults, so that a variable can fill them). */
export const TTA_OPTIONS = {
  tta: { type: "boolean" },
  "tta-translate": { type: "boolean" },
} as const;

/** The flags' lines of a usage text. */
export const TTA_USAGE =
  `  --tta              test-time augmentation: average the probabilities of
                     each image and its mirror (2 forward passes per image)
  --tta-translate    also average one-pixel translations, filled by
                     reflection, as airbench does (6 passes; implies --tta)`;

// A variable fills a boolean flag with its text; these are the texts of
// true and false (empty counts as unset before this is reached).
const TRUE = ["1", "true", "yes", "on"];
const FALSE = ["0", "false", "no", "off"];

function booleanValue(
  value: boolean | string | undefined,
  flag: string,
): boolean {
  if (typeof value !== "string") return value === true;
  const text = value.trim().toLowerCase();
  if (TRUE.includes(text)) return true;
  if (FALSE.includes(text)) return false;
  throw new UsageError(
    `--${flag} must be true or false (1 or 0), got ${value}`,
  );
}

/**
 * The setting the flags ask for, or undefined for none. A flag may also
 * hold text when a variable filled it (`true`/`false`, `1`/`0`, `yes`/`no`,
 * `on`/`off`); anything else is a {@linkcode UsageError} naming the flag.
 */
export function ttaFlags(
  v: { tta?: boolean | string; "tta-translate"?: boolean | string },
): Required<TtaOptions> | undefined {
  const mirror = booleanValue(v.tta, "tta");
  const translate = booleanValue(v["tta-translate"], "tta-translate");
  return mirror || translate ? { flip: true, translate } : undefined;
}
