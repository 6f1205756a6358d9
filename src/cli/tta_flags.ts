/**
 * The test-time augmentation flags `evaluate`, `classify` and `serve`
 * share: `--tta` averages each image with its mirror, `--tta-translate`
 * adds the one-pixel translations (and implies `--tta`); `serve` also
 * reads `SIMDNET_TTA` (`off`, `mirror` or `translate`).
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

/** The values `SIMDNET_TTA` (or another text source) may take. */
export const TTA_MODES = ["off", "mirror", "translate"] as const;

/**
 * The setting the flags ask for, or undefined for none. `--tta` may also
 * hold a mode text when a variable filled it (`off`, `mirror`,
 * `translate`); anything else is a {@linkcode UsageError} naming `--tta`.
 */
export function ttaFlags(
  v: { tta?: boolean | string; "tta-translate"?: boolean | string },
): Required<TtaOptions> | undefined {
  let mode: string = v.tta === true ? "mirror" : "off";
  if (typeof v.tta === "string") {
    mode = v.tta.trim().toLowerCase();
    if (!(TTA_MODES as readonly string[]).includes(mode)) {
      throw new UsageError(
        `--tta must be off, mirror or translate, got ${v.tta}`,
      );
    }
  }
  if (v["tta-translate"] === true) mode = "translate";
  if (mode === "off") return undefined;
  return { flip: true, translate: mode === "translate" };
}
