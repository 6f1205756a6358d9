/**
 * A stratified, seeded validation split: each class gives the same fraction
 * of its images, so a small or unbalanced image folder keeps every class in
 * both parts (a plain "last 10%" of a folder sorted by class would validate
 * on the last class only).
 *
 * @module
 */

import { gather, type ValidationSplit } from "./dataset.ts";
import { DataError } from "./errors.ts";
import { checkImageSet, type ImageSet } from "./image_set.ts";
import { Rng } from "../util/random.ts";

/**
 * Splits `data` into training and validation sets: for each class with `n`
 * images, `round(n * fraction)` of them (at most `n - 1`, so every class
 * stays in training) drawn by a generator seeded with `seed` go to
 * validation. Both parts keep the original order; the same seed gives the
 * same split. Throws a {@linkcode DataError} ("usage") for a fraction
 * outside (0, 1) or a split that leaves validation empty.
 *
 * @example
 * ```ts
 * import { stratifiedSplit } from "./stratified_split.ts";
 * const data = {
 *   images: new Uint8Array(10),
 *   labels: Uint8Array.of(0, 0, 0, 0, 0, 1, 1, 1, 1, 1),
 *   count: 10,
 *   shape: [1, 1, 1] as const,
 * };
 * const { train, validation } = stratifiedSplit(data, 0.2, 7);
 * console.log(train.count, validation.count); // 8 2
 * ```
 */
export function stratifiedSplit(
  data: ImageSet,
  fraction: number,
  seed: number,
): ValidationSplit {
  checkImageSet(data, "stratifiedSplit");
  if (!(fraction > 0 && fraction < 1)) {
    throw new DataError(
      "usage",
      `the validation split must be in (0, 1), got ${fraction}`,
      "pass e.g. 0.2 to validate on a fifth of each class",
    );
  }
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < data.count; i++) {
    const label = data.labels[i]!;
    let list = byClass.get(label);
    if (!list) byClass.set(label, list = []);
    list.push(i);
  }
  const rng = new Rng(seed);
  const held = new Uint8Array(data.count);
  // Classes in label order, so the draws do not depend on Map order.
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const list = byClass.get(label)!;
    const take = Math.min(list.length - 1, Math.round(list.length * fraction));
    rng.shuffle(list);
    for (let k = 0; k < take; k++) held[list[k]!] = 1;
  }
  const trainIdx: number[] = [], valIdx: number[] = [];
  for (let i = 0; i < data.count; i++) (held[i] ? valIdx : trainIdx).push(i);
  if (valIdx.length === 0) {
    throw new DataError(
      "usage",
      `a validation split of ${fraction} leaves no validation image ` +
        `(${data.count} images)`,
      "use more images, a larger --val-split, or --val-data DIR",
    );
  }
  return { train: gather(data, trainIdx), validation: gather(data, valIdx) };
}
