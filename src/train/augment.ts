/**
 * Data augmentation with the semantics of Keras 2's
 * `ImageDataGenerator(rotation_range=15, width_shift_range=0.1,
 * height_shift_range=0.1, horizontal_flip=True)` (fill_mode `nearest`,
 * bilinear interpolation), batched on the backend with one projective
 * `Transform` kernel call per batch.
 *
 * Convention (Keras 2.9+, `apply_affine_transform` through
 * `scipy.ndimage.affine_transform`): every output pixel `p = (x, y)`
 * (column, row) samples the input at
 *
 *     p_in = R(theta) * (p - c + t) + c,   R = [[cos, -sin], [sin, cos]]
 *
 * where `c = ((w - 1) / 2, (h - 1) / 2)` is the image centre and `t` the
 * shift in pixels. Hence a positive `theta` turns the content
 * counter-clockwise on screen, and a positive shift moves the content left
 * (`tx`) or up (`ty`): the output at `x` shows the input at `x + tx`. The
 * horizontal flip is applied after the affine part (`out[x] = aff[w-1-x]`)
 * and folded into the same matrix. Points outside the input take the
 * nearest edge pixel (coordinates are clamped before interpolating, which is
 * what scipy's `mode='nearest'` amounts to at order 1).
 *
 * Keras draws `theta ~ U(-15, 15)` degrees, shifts `~ U(-0.1, 0.1)` times
 * the size, and flips with probability 1/2, independently per image. (Keras
 * 2.0-2.8 centred at `size / 2 + 0.5` and applied the matrix in row/column
 * order; 2.9+ fixed the centre and swapped the axes. With symmetric ranges,
 * equal shift ranges and square images the two give the same distribution.)
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";

/** Augmentation settings, named like Keras' arguments. */
export interface AugmentOptions {
  /** Degrees; rotations are drawn from U(-range, range). Default 15. */
  rotationRange?: number;
  /** Fraction of the width; shifts drawn from U(-range, range) * width. Default 0.1. */
  widthShiftRange?: number;
  /** Fraction of the height. Default 0.1. */
  heightShiftRange?: number;
  /** Mirror left-right with probability 1/2. Default true. */
  horizontalFlip?: boolean;
}

/** One image's transformation. */
export interface TransformParams {
  /** Rotation in degrees; positive is counter-clockwise. */
  theta: number;
  /** Horizontal shift in pixels; positive moves the content left. */
  tx: number;
  /** Vertical shift in pixels; positive moves the content up. */
  ty: number;
  /** Mirror left-right after rotating and shifting. */
  flip: boolean;
}

/** The seed notebook's settings. */
export const SEED_AUGMENTATION: Required<AugmentOptions> = {
  rotationRange: 15,
  widthShiftRange: 0.1,
  heightShiftRange: 0.1,
  horizontalFlip: true,
};

/** `options` completed with the seed's settings (undefined means default). */
export function augmentSettings(
  options: AugmentOptions = {},
): Required<AugmentOptions> {
  return {
    rotationRange: options.rotationRange ?? SEED_AUGMENTATION.rotationRange,
    widthShiftRange: options.widthShiftRange ??
      SEED_AUGMENTATION.widthShiftRange,
    heightShiftRange: options.heightShiftRange ??
      SEED_AUGMENTATION.heightShiftRange,
    horizontalFlip: options.horizontalFlip ?? SEED_AUGMENTATION.horizontalFlip,
  };
}

/** A source of uniform floats in [0, 1). */
export interface UniformSource {
  next(): number;
}

/**
 * Draws one image's parameters, in Keras' order (rotation, height shift,
 * width shift, flip); disabled parts draw nothing.
 */
export function randomTransformParams(
  rng: UniformSource,
  height: number,
  width: number,
  options: AugmentOptions = SEED_AUGMENTATION,
): TransformParams {
  const o = augmentSettings(options);
  const u = (range: number) => range * (2 * rng.next() - 1);
  const theta = o.rotationRange ? u(o.rotationRange) : 0;
  const ty = o.heightShiftRange ? u(o.heightShiftRange) * height : 0;
  const tx = o.widthShiftRange ? u(o.widthShiftRange) * width : 0;
  const flip = o.horizontalFlip ? rng.next() < 0.5 : false;
  return { theta, tx, ty, flip };
}

/**
 * The 8 coefficients `[a0, a1, a2, b0, b1, b2, 0, 0]` of `tf.image.transform`
 * (output `(x, y)` samples input `(a0 x + a1 y + a2, b0 x + b1 y + b2)`).
 */
export function transformMatrix(
  p: TransformParams,
  height: number,
  width: number,
): number[] {
  const rad = (p.theta * Math.PI) / 180;
  const c = Math.cos(rad);
  const s = Math.sin(rad);
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const a = [c, -s, c * (p.tx - cx) - s * (p.ty - cy) + cx];
  const b = [s, c, s * (p.tx - cx) + c * (p.ty - cy) + cy];
  if (p.flip) {
    // Substitute x -> (w - 1 - x).
    a[2]! += a[0]! * (width - 1);
    b[2]! += b[0]! * (width - 1);
    a[0] = -a[0]!;
    b[0] = -b[0]!;
  }
  return [...a, ...b, 0, 0];
}

/** Applies one transformation per image of an NHWC float batch. */
export function applyTransforms(
  images: tf.Tensor4D,
  params: readonly TransformParams[],
): tf.Tensor4D {
  const [n, h, w] = images.shape;
  if (params.length !== n) {
    throw new Error(`got ${params.length} transformations for ${n} images`);
  }
  const coeffs = new Float32Array(n * 8);
  params.forEach((p, i) => coeffs.set(transformMatrix(p, h, w), i * 8));
  return tf.tidy(() => {
    const all = tf.tensor2d(coeffs, [n, 8]);
    if (n === 1 || batchedTransformWorks()) return transform(images, all);
    const one = (i: number) =>
      transform(
        tf.slice(images, [i, 0, 0, 0], [1, -1, -1, -1]),
        tf.slice(all, [i, 0], [1, 8]),
      );
    return tf.concat(Array.from({ length: n }, (_, i) => one(i)), 0);
  });
}

function transform(images: tf.Tensor4D, coeffs: tf.Tensor2D): tf.Tensor4D {
  return tf.image.transform(images, coeffs, "bilinear", "nearest");
}

const batchedTransform = new Map<string, boolean>();

/**
 * Whether the active backend's `Transform` kernel handles a batch.
 * tfjs-backend-cpu 4.22's kernel returns after the first image and leaves
 * the others at the fill value; a two-image probe detects that once per
 * backend, and such backends get one kernel call per image.
 */
function batchedTransformWorks(): boolean {
  const backend = tf.getBackend();
  let ok = batchedTransform.get(backend);
  if (ok === undefined) {
    ok = tf.tidy(() => {
      const probe = transform(
        tf.ones([2, 1, 1, 1]),
        tf.tensor2d([1, 0, 0, 0, 1, 0, 0, 0], [1, 8]),
      );
      return probe.dataSync()[1] === 1;
    });
    batchedTransform.set(backend, ok);
  }
  return ok;
}

/** Draws parameters for every image from `rng` and applies them. */
export function augmentBatch(
  images: tf.Tensor4D,
  rng: UniformSource,
  options: AugmentOptions = SEED_AUGMENTATION,
): tf.Tensor4D {
  const [n, h, w] = images.shape;
  const params = Array.from(
    { length: n },
    () => randomTransformParams(rng, h, w, options),
  );
  return applyTransforms(images, params);
}
