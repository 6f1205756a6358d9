/**
 * Number and string formatting that reproduces Python's `str.format`, so
 * text reports match scikit-learn character for character.
 *
 * @module
 */

/**
 * Length of a string as Python's `len()` counts it: in Unicode code points,
 * not UTF-16 units and not terminal columns.
 */
export function codePointLength(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** Python's `"{:>{width}}".format(text)`: right-align, padding by code points. */
export function rjust(text: string, width: number): string {
  const pad = width - codePointLength(text);
  return pad > 0 ? " ".repeat(pad) + text : text;
}

const view = new DataView(new ArrayBuffer(8));

/**
 * Python's `format(x, f".{digits}f")`.
 *
 * `Number.prototype.toFixed` rounds exact ties away from zero (0.125 gives
 * "0.13") while Python rounds the exact binary value half to even (0.125
 * gives "0.12"), so the double is expanded exactly with BigInt arithmetic.
 */
export function formatFixed(x: number, digits: number): string {
  if (!Number.isInteger(digits) || digits < 0 || digits > 100) {
    throw new RangeError(
      `digits is ${digits}: pass a whole number of decimals between 0 and 100`,
    );
  }
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  view.setFloat64(0, x);
  const negative = view.getUint8(0) >= 0x80; // keeps -0 as "-0.00", as Python does
  const hi = view.getUint32(0) & 0x7fffffff;
  const lo = view.getUint32(4);
  const biased = hi >>> 20;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exponent: number;
  if (biased === 0) {
    exponent = -1074; // subnormal
  } else {
    mantissa |= 1n << 52n;
    exponent = biased - 1075;
  }
  // |x| * 10^digits = mantissa * 10^digits * 2^exponent, an exact rational.
  const numerator = mantissa * 10n ** BigInt(digits);
  let scaled: bigint;
  if (exponent >= 0) {
    scaled = numerator << BigInt(exponent);
  } else {
    const denominator = 1n << BigInt(-exponent);
    scaled = numerator / denominator;
    const twiceRest = 2n * (numerator % denominator);
    if (
      twiceRest > denominator ||
      (twiceRest === denominator && scaled % 2n === 1n)
    ) {
      scaled += 1n;
    }
  }
  const text = scaled.toString().padStart(digits + 1, "0");
  const sign = negative ? "-" : "";
  if (digits === 0) return sign + text;
  return `${sign}${text.slice(0, -digits)}.${text.slice(-digits)}`;
}
