/**
 * CIFAR-10 class names in English (from `batches.meta.txt`) and Japanese
 * (the reference notebook's names).
 *
 * @module
 */

/**
 * The languages simdnet speaks: class names, report wording and the
 * classifier page, in English or the reference notebook's Japanese.
 */
export type Lang = typeof LANGS[number];

/** Every {@linkcode Lang}, English first. */
export const LANGS = ["en", "ja"] as const;

/** The ten English names, in label order, as in the official `batches.meta.txt`. */
export const CIFAR10_CLASSES_EN: readonly string[] = Object.freeze([
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
]);

/** The ten Japanese names, in label order, as in the reference notebook. */
export const CIFAR10_CLASSES_JA: readonly string[] = Object.freeze([
  "飛行機",
  "自動車",
  "鳥",
  "猫",
  "鹿",
  "犬",
  "カエル",
  "馬",
  "船",
  "トラック",
]);

/** Checks a `lang` value coming from options or the command line. */
export function isLang(value: unknown): value is Lang {
  return (LANGS as readonly unknown[]).includes(value);
}

/**
 * Parses the text of `batches.meta.txt`: one name per line, then an empty
 * line. Returns `null` when the text does not hold exactly ten names, so the
 * caller can fall back to {@linkcode CIFAR10_CLASSES_EN}.
 */
export function parseBatchesMeta(text: string): string[] | null {
  const names = text.split(/\r?\n/).map((line) => line.trim()).filter((line) =>
    line.length > 0
  );
  return names.length === 10 ? names : null;
}

/**
 * The class names for `lang`. English names come from `englishNames` (read
 * from `batches.meta.txt`) when given, else the standard ten.
 */
export function classNamesFor(
  lang: Lang,
  englishNames?: readonly string[] | null,
): string[] {
  if (lang === "ja") return [...CIFAR10_CLASSES_JA];
  return [...(englishNames ?? CIFAR10_CLASSES_EN)];
}

/** Whether `names` are CIFAR-10's English class names, in label order. */
export function isCifar10Names(names: readonly string[]): boolean {
  return names.length === CIFAR10_CLASSES_EN.length &&
    names.every((n, i) => n === CIFAR10_CLASSES_EN[i]);
}

/**
 * The class names of a model saved without any (older runs, models from
 * elsewhere): CIFAR-10's English names for 10 classes, else `class 0`,
 * `class 1`, ...
 */
export function defaultClassNames(classes: number): readonly string[] {
  return classes === CIFAR10_CLASSES_EN.length
    ? CIFAR10_CLASSES_EN
    : Array.from({ length: classes }, (_, i) => `class ${i}`);
}
