/**
 * Small helpers for writing SVG by hand: escaping, number formatting, text
 * width estimates and axis ticks.
 *
 * @module
 */

/**
 * Fonts that cover Latin and Japanese on Linux (Noto CJK from Debian's
 * `fonts-noto-cjk`), macOS and Windows, ending with a generic family.
 */
export const FONT_STACK =
  `"Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", "Hiragino Kaku Gothic ProN", "Yu Gothic", Meiryo, "Noto Sans", "DejaVu Sans", Arial, sans-serif`;

/** Escapes text for XML/HTML element content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) =>
      c === "&"
        ? "&amp;"
        : c === "<"
        ? "&lt;"
        : c === ">"
        ? "&gt;"
        : c === '"'
        ? "&quot;"
        : "&#39;",
  );
}

/** A coordinate with at most two decimals, without trailing zeros. */
export function num(value: number): string {
  const rounded = Math.round(value * 100) / 100;
  return Object.is(rounded, -0) ? "0" : String(rounded);
}

/** Whether a character is drawn about as wide as it is tall (CJK, kana, full-width forms). */
function isWide(code: number): boolean {
  return (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) || (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) || (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) || code >= 0x20000;
}

/**
 * Rough rendered width of `text` at `fontSize`: enough to size margins
 * without measuring fonts (there is no layout engine when writing files).
 */
export function textWidth(text: string, fontSize: number): number {
  let em = 0;
  for (const ch of text) {
    const code = ch.codePointAt(0) as number;
    em += isWide(code)
      ? 1
      : /[A-Z0-9mwMW%]/.test(ch)
      ? 0.66
      : /[il.,:;'|!() ]/.test(ch)
      ? 0.32
      : 0.56;
  }
  return em * fontSize;
}

/** Evenly spaced round tick values covering `[min, max]`, and their step. */
export function niceTicks(
  min: number,
  max: number,
  maxTicks: number = 6,
): { ticks: number[]; step: number } {
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    return { ticks: [], step: 1 };
  }
  if (max <= min) {
    const pad = Math.abs(min) > 0 ? Math.abs(min) * 0.05 : 1;
    return niceTicks(min - pad, max + pad, maxTicks);
  }
  const raw = (max - min) / Math.max(1, maxTicks - 1);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ??
    10 * power;
  const ticks: number[] = [];
  const first = Math.ceil(min / step - 1e-9);
  const last = Math.floor(max / step + 1e-9);
  for (let i = first; i <= last; i++) ticks.push(i * step);
  return { ticks, step };
}

/** A tick label with just enough decimals for `step`. */
export function tickLabel(value: number, step: number): string {
  let decimals = 0;
  while (
    decimals < 6 &&
    Math.abs(Math.round(step * 10 ** decimals) - step * 10 ** decimals) > 1e-6
  ) {
    decimals++;
  }
  const text = value.toFixed(decimals);
  return /^-0\.?0*$/.test(text) ? text.slice(1) : text;
}
