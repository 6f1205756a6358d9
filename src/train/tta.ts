/**
 * Test-time augmentation: a prediction averaged over the image and its
 * horizontal mirror, and optionally over one-pixel translations, as
 * airbench evaluates (Jordan 2024, "94% on CIFAR-10 in 3.29 seconds",
 * section 3.6). Images are NHWC batches in the model's input range.
 *
 * The translated views shift the image by one pixel down-right and
 * up-left, filling the uncovered row and column by reflection (the image
 * padded by one pixel with `reflect`, then cropped at offsets 0 and 2, as
 * airbench's `infer_mirror_translate` does). Airbench weighs the
 * untranslated views 1/2 and the two translated ones 1/4 each; so does
 * this file. Unlike airbench, which averages logits, the average is of
 * softmax probabilities, so a model ending in softmax and one giving
 * logits are treated alike and the result stays a probability.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

/** Which views to average; see {@linkcode resolveTta}. */
export interface TtaOptions {
  /** The horizontal mirror of each view; default true. */
  flip?: boolean;
  /** One-pixel translations (reflection-padded) of each view; default false. */
  translate?: boolean;
}

/** `true` is `{ flip: true }` (the mirror only); false or undefined is none. */
export type TtaSetting = boolean | TtaOptions;

/** One view of a batch: a translation, a mirror, and its weight in the mean. */
export interface TtaView {
  /** Pixels moved down (+1), up (-1) or not (0). */
  dy: number;
  /** Pixels moved right (+1), left (-1) or not (0). */
  dx: number;
  flip: boolean;
  weight: number;
}

/**
 * The checked options of a setting, or null when it asks for no
 * augmentation (false, undefined, or neither flip nor translate).
 */
export function resolveTta(
  setting: TtaSetting | undefined,
): Required<TtaOptions> | null {
  if (setting === undefined || setting === false) return null;
  const options = setting === true ? {} : setting;
  const flip = options.flip ?? true;
  const translate = options.translate ?? false;
  return flip || translate ? { flip, translate } : null;
}

/**
 * The views a setting averages, with weights summing to 1 (one view of
 * weight 1 without augmentation).
 */
export function ttaViews(setting: TtaSetting | undefined): TtaView[] {
  const tta = resolveTta(setting);
  const shifts = tta?.translate
    ? [{ dy: 0, dx: 0, w: 0.5 }, { dy: 1, dx: 1, w: 0.25 }, {
      dy: -1,
      dx: -1,
      w: 0.25,
    }]
    : [{ dy: 0, dx: 0, w: 1 }];
  const flips = tta?.flip ? [false, true] : [false];
  return shifts.flatMap(({ dy, dx, w }) =>
    flips.map((flip) => ({ dy, dx, flip, weight: w / flips.length }))
  );
}

/** A one-line description for logs, reports and `metrics.json`. */
export function describeTta(setting: TtaSetting | undefined): string {
  const tta = resolveTta(setting);
  if (tta === null) return "none";
  const parts = [
    ...(tta.flip ? ["mirror"] : []),
    ...(tta.translate ? ["1-pixel translations"] : []),
  ];
  return parts.join(" + ");
}

/**
 * `x` (NHWC) moved by `dy`, `dx` of -1, 0 or +1 pixel, the uncovered edge
 * filled by reflection, and mirrored left-right when `flip`.
 */
export function ttaView(
  x: tf.Tensor4D,
  view: Omit<TtaView, "weight">,
): tf.Tensor4D {
  return tf.tidy(() => {
    let y: tf.Tensor4D = x;
    if (view.dy !== 0 || view.dx !== 0) {
      const [n, h, w, c] = x.shape;
      if (h < 2 || w < 2) {
        throw new RangeError(
          `translations need images of at least 2x2 pixels, got ${h}x${w}; ` +
            `use the mirror only`,
        );
      }
      const padded = tf.mirrorPad(
        x,
        [[0, 0], [1, 1], [1, 1], [0, 0]],
        "reflect",
      );
      // Cropping at offset 0 moves the content down/right by one pixel,
      // at offset 2 up/left.
      y = tf.slice(padded, [0, 1 - view.dy, 1 - view.dx, 0], [n, h, w, c]);
    }
    return view.flip ? tf.reverse(y, 2) : y;
  });
}

/**
 * The weighted mean of `probs` over the views of `setting`: `probs` maps a
 * batch to its class probabilities `[n, classes]` (e.g. the model's
 * softmax). Without augmentation it is `probs(x)`. Each view runs as its
 * own forward pass, so memory stays that of one batch. The caller disposes
 * the result.
 */
export function ttaProbabilities(
  x: tf.Tensor4D,
  probs: (batch: tf.Tensor4D) => tf.Tensor,
  setting: TtaSetting | undefined,
): tf.Tensor {
  const views = ttaViews(setting);
  if (views.length === 1) return tf.tidy(() => probs(x));
  let sum: tf.Tensor | null = null;
  for (const view of views) {
    const next: tf.Tensor = tf.tidy(() => {
      const p = tf.mul(probs(ttaView(x, view)), view.weight);
      return sum === null ? p : tf.add(sum, p);
    });
    sum?.dispose();
    sum = next;
  }
  return sum!;
}
