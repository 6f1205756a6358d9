/**
 * Output sizes of windowed layers (convolutions and pooling) as Keras and
 * TensorFlow compute them, shared by every such layer's `plan()`.
 *
 * @module
 */

/** Keras' `padding` of a windowed layer. */
export type Padding = "same" | "valid";

/**
 * Checks that `inputShape` is `[height, width, channels]` with positive
 * sizes and returns it; `what` is `name: Class` for the message.
 */
export function imageShape(
  inputShape: readonly number[],
  what: string,
): [number, number, number] {
  const [h = 0, w = 0, c = 0] = inputShape;
  if (inputShape.length !== 3 || !(h >= 1 && w >= 1 && c >= 1)) {
    throw new Error(
      `${what} needs inputs of shape [height, width, channels], got ` +
        `[${inputShape}]`,
    );
  }
  return [h, w, c];
}

/** A window's geometry along both spatial axes. */
export interface Window {
  /** Kernel or pool size. */
  size: readonly [number, number];
  strides: readonly [number, number];
  /** Dilation rate; 1 for pooling. */
  dilation?: readonly [number, number];
  padding: Padding;
}

/**
 * Keras' `conv_output_length`: `ceil(n / stride)` for `same`, and
 * `floor((n - effective) / stride) + 1` for `valid`, where the effective
 * window is `(size - 1) * dilation + 1`. Throws naming the layer (`what`)
 * when a `valid` window does not fit in the input.
 */
export function windowOutput(
  [h, w]: readonly [number, number],
  win: Window,
  what: string,
): [number, number] {
  const [dh, dw] = win.dilation ?? [1, 1];
  const eh = (win.size[0] - 1) * dh + 1;
  const ew = (win.size[1] - 1) * dw + 1;
  const [sh, sw] = win.strides;
  if (win.padding === "same") return [Math.ceil(h / sh), Math.ceil(w / sw)];
  if (h < eh || w < ew) {
    throw new Error(
      `${what}: a ${eh}x${ew} 'valid' window cannot run on a ${h}x${w} ` +
        `input; use padding 'same' or a larger input`,
    );
  }
  return [Math.floor((h - eh) / sh) + 1, Math.floor((w - ew) / sw) + 1];
}

/** An `int or [int, int]` option as a pair, checked whole and >= 1. */
export function pairOption(
  v: number | readonly [number, number],
  what: string,
): [number, number] {
  const p: [number, number] = typeof v === "number" ? [v, v] : [v[0], v[1]];
  if (!p.every((d) => Number.isInteger(d) && d >= 1)) {
    throw new RangeError(`${what} must be whole numbers >= 1, got ${p}`);
  }
  return p;
}
