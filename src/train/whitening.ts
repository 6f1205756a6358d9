/**
 * The fast recipe's whitening stem (Keller Jordan's airbench, after David
 * Page's "How to train your ResNet"): the filters of a frozen 2x2 `valid`
 * convolution are the eigenvectors of the covariance of the training
 * images' 2x2 patches, each divided by `sqrt(eigenvalue + eps)`, followed by
 * their negatives. On the training patches its first half of outputs then
 * has (nearly) identity covariance, so the first trained layer starts from
 * decorrelated inputs of equal scale; the negatives let the GELU after it
 * keep both signs of every direction.
 *
 * Differences from airbench, both because simdnet's inputs are `byte / 255`
 * with no per-channel normalisation: the patches are centred and the
 * stem's bias is set to `-kernel . mean` (frozen, like the kernel), so the
 * outputs have zero mean; and `eps` is relative to the mean patch variance
 * (airbench's 5e-4 applies to unit-variance inputs), so the same value
 * means the same on any pixel scale.
 *
 * @module
 */

import type { ImageSet } from "../data/image_set.ts";
import { checkImageSet, imageBytes } from "../data/image_set.ts";
import {
  type SymmetricEigen,
  symmetricEigen,
} from "../util/symmetric_eigen.ts";

/** Options of {@linkcode whiteningStem}. */
export interface WhiteningOptions {
  /** Side of the square patches and of the stem's kernel; default 2. */
  kernelSize?: number;
  /**
   * Added to each eigenvalue before the square root, as a fraction of the
   * mean patch variance (`trace / dimension`); default 5e-4, airbench's
   * value on unit-variance inputs. It bounds the gain on the flattest
   * directions, which are mostly noise.
   */
  eps?: number;
  /**
   * Patches come from the first this many images; default 5000, as in
   * airbench (more changes the estimate little and costs time).
   */
  maxImages?: number;
}

/** Mean and covariance of an image set's patches. */
export interface PatchStatistics {
  /** Patch dimension `kernelSize^2 * channels`; index `(dy*k + dx)*c + ch`. */
  dimension: number;
  /** Number of patches averaged. */
  patches: number;
  /** The mean patch, `dimension` values. */
  mean: Float64Array;
  /** The centred covariance (divided by the patch count), row-major. */
  covariance: Float64Array;
}

/** The stem's weights and how they were made. */
export interface WhiteningStem {
  /**
   * Keras `Conv2D` kernel `[k, k, channels, 2 * dimension]`, row-major:
   * filter `f < dimension` is eigenvector `f` (largest eigenvalue first)
   * over `sqrt(eigenvalue + eps)`, filter `dimension + f` its negative.
   */
  kernel: Float32Array;
  /** `[2 * dimension]`: `-kernel . mean`, which centres the outputs. */
  bias: Float32Array;
  /** The kernel's shape. */
  kernelShape: [number, number, number, number];
  /** The patch statistics the filters come from. */
  statistics: PatchStatistics;
  /** Their eigendecomposition. */
  eigen: SymmetricEigen;
  /** The absolute `eps` added to the eigenvalues. */
  eps: number;
}

/**
 * Mean and centred covariance of every `k x k` patch (stride 1, no
 * padding) of the first `maxImages` images of `set`, pixels as
 * `byte / 255` like the model's input.
 */
export function patchStatistics(
  set: ImageSet,
  kernelSize = 2,
  maxImages = Infinity,
): PatchStatistics {
  checkImageSet(set, "patchStatistics");
  const [h, w, c] = set.shape;
  const k = kernelSize;
  if (!Number.isInteger(k) || k < 1 || k > h || k > w) {
    throw new RangeError(
      `patchStatistics: the kernel size must be a whole number from 1 to ` +
        `the image side (${Math.min(h, w)}), got ${k}`,
    );
  }
  const count = Math.min(set.count, maxImages);
  if (count < 1) {
    throw new RangeError("patchStatistics needs at least one image");
  }
  const d = k * k * c;
  const sum = new Float64Array(d);
  const products = new Float64Array(d * d);
  const patch = new Float64Array(d);
  const size = imageBytes(set.shape);
  for (let n = 0; n < count; n++) {
    const base = n * size;
    for (let y = 0; y + k <= h; y++) {
      for (let x = 0; x + k <= w; x++) {
        for (let dy = 0; dy < k; dy++) {
          for (let dx = 0; dx < k; dx++) {
            const src = base + ((y + dy) * w + x + dx) * c;
            const dst = (dy * k + dx) * c;
            for (let ch = 0; ch < c; ch++) {
              patch[dst + ch] = set.images[src + ch]! / 255;
            }
          }
        }
        // The upper triangle only: it is symmetric.
        for (let i = 0; i < d; i++) {
          const pi = patch[i]!;
          sum[i] = sum[i]! + pi;
          const row = i * d;
          for (let j = i; j < d; j++) {
            products[row + j] = products[row + j]! + pi * patch[j]!;
          }
        }
      }
    }
  }
  const patches = count * (h - k + 1) * (w - k + 1);
  const mean = sum.map((s) => s / patches);
  const covariance = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) {
      const v = products[i * d + j]! / patches - mean[i]! * mean[j]!;
      covariance[i * d + j] = v;
      covariance[j * d + i] = v;
    }
  }
  return { dimension: d, patches, mean, covariance };
}

/**
 * The whitening stem's kernel and bias for `set` (see the module comment).
 * The eigenvectors' signs are made deterministic (largest component
 * positive) so that the same data always gives the same filters.
 */
export function whiteningStem(
  set: ImageSet,
  options: WhiteningOptions = {},
): WhiteningStem {
  const k = options.kernelSize ?? 2;
  const relEps = options.eps ?? 5e-4;
  if (!(relEps >= 0 && Number.isFinite(relEps))) {
    throw new RangeError(`whitening eps must be >= 0, got ${relEps}`);
  }
  const statistics = patchStatistics(set, k, options.maxImages ?? 5000);
  const { dimension: d, mean, covariance } = statistics;
  const eigen = symmetricEigen(covariance, d);
  let trace = 0;
  for (let i = 0; i < d; i++) trace += covariance[i * d + i]!;
  const eps = relEps * trace / d;
  if (!(eigen.values[0]! + eps > 0)) {
    throw new RangeError(
      "whiteningStem: the images' patches do not vary (all pixels equal); " +
        "give it real training images",
    );
  }
  const filters = 2 * d;
  const kernel = new Float32Array(d * filters);
  const bias = new Float32Array(filters);
  for (let f = 0; f < d; f++) {
    const vec = eigen.vectors.subarray(f * d, (f + 1) * d);
    let big = 0;
    for (let i = 0; i < d; i++) {
      if (Math.abs(vec[i]!) > Math.abs(vec[big]!)) big = i;
    }
    const sign = vec[big]! < 0 ? -1 : 1;
    // A negative eigenvalue is rounding of a zero one.
    const gain = sign / Math.sqrt(Math.max(eigen.values[f]!, 0) + eps);
    let dot = 0;
    for (let i = 0; i < d; i++) {
      const value = vec[i]! * gain;
      kernel[i * filters + f] = value;
      kernel[i * filters + d + f] = -value;
      dot += value * mean[i]!;
    }
    bias[f] = -dot;
    bias[d + f] = dot;
  }
  const c = set.shape[2];
  return {
    kernel,
    bias,
    kernelShape: [k, k, c, filters],
    statistics,
    eigen,
    eps,
  };
}
