/**
 * The symmetric eigen-solver and the fast recipe's whitening stem, against
 * their definitions (A v = lambda v, orthonormal vectors, whitened patches
 * of identity covariance through a real tfjs convolution) and against
 * NumPy (`numpy.linalg.eigh` on patches NumPy extracts itself) on a fixed
 * small case.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import type { ImageSet } from "../src/data/image_set.ts";
import { patchStatistics, whiteningStem } from "../src/train/whitening.ts";
import { Rng } from "../src/util/random.ts";
import { symmetricEigen } from "../src/util/symmetric_eigen.ts";

await tf.setBackend("cpu");

/** A random symmetric n x n matrix with entries in [-1, 1). */
function randomSymmetric(n: number, rng: Rng): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      a[i * n + j] = a[j * n + i] = rng.uniform(-1, 1);
    }
  }
  return a;
}

/**
 * Smooth random images (a random field blurred by a box filter, plus
 * noise), so that neighbouring pixels and channels correlate like photos'.
 */
function smoothImages(n: number, h: number, w: number, seed: number): ImageSet {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * h * w * 3);
  for (let i = 0; i < n; i++) {
    const field = Array.from({ length: (h + 2) * (w + 2) }, () => rng.next());
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        let s = 0;
        for (let dy = 0; dy < 3; dy++) {
          for (let dx = 0; dx < 3; dx++) {
            s += field[(y + dy) * (w + 2) + x + dx]!;
          }
        }
        for (let c = 0; c < 3; c++) {
          const v = (s / 9) * (150 + 40 * c) + rng.int(40);
          images[((i * h + y) * w + x) * 3 + c] = Math.min(255, Math.round(v));
        }
      }
    }
  }
  return { images, labels: new Uint8Array(n), count: n, shape: [h, w, 3] };
}

Deno.test("symmetric_eigen: A v = lambda v, orthonormal vectors, values largest first, on random sizes 1..12", () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 30; trial++) {
    const n = 1 + rng.int(12);
    const a = randomSymmetric(n, rng);
    const { values, vectors } = symmetricEigen(a, n);
    let trace = 0;
    for (let i = 0; i < n; i++) trace += a[i * n + i]!;
    assert.ok(Math.abs(values.reduce((s, v) => s + v, 0) - trace) < 1e-10);
    for (let k = 0; k < n; k++) {
      if (k > 0) assert.ok(values[k - 1]! >= values[k]!, "descending");
      for (let i = 0; i < n; i++) {
        let av = 0;
        for (let j = 0; j < n; j++) av += a[i * n + j]! * vectors[k * n + j]!;
        assert.ok(
          Math.abs(av - values[k]! * vectors[k * n + i]!) < 1e-10,
          `n ${n}: (A v)_${i} = lambda v_${i} for vector ${k}`,
        );
      }
      for (let l = 0; l < n; l++) {
        let dot = 0;
        for (let i = 0; i < n; i++) {
          dot += vectors[k * n + i]! * vectors[l * n + i]!;
        }
        assert.ok(Math.abs(dot - (k === l ? 1 : 0)) < 1e-12, "orthonormal");
      }
    }
  }
});

Deno.test("symmetric_eigen: repeated eigenvalues and a diagonal matrix; bad input is refused", () => {
  const { values, vectors } = symmetricEigen([2, 0, 0, 0, 5, 0, 0, 0, 2], 3);
  assert.deepEqual([...values], [5, 2, 2]);
  assert.deepEqual([...vectors.subarray(0, 3)].map(Math.abs), [0, 1, 0]);
  const ones = symmetricEigen(new Float64Array(16).fill(1), 4);
  assert.ok(Math.abs(ones.values[0]! - 4) < 1e-12);
  for (let k = 1; k < 4; k++) assert.ok(Math.abs(ones.values[k]!) < 1e-12);
  assert.throws(() => symmetricEigen([1, 2, 3], 2), /n x n/);
  assert.throws(() => symmetricEigen([1, NaN, NaN, 1], 2), /finite/);
});

Deno.test("whitening: the stem's convolution makes the training patches zero-mean with identity covariance (eps 0), and diag(l / (l + eps)) with eps", () => {
  const set = smoothImages(40, 9, 7, 3);
  for (const eps of [0, 5e-2]) {
    const stem = whiteningStem(set, { eps });
    const d = stem.statistics.dimension;
    assert.deepEqual(stem.kernelShape, [2, 2, 3, 24]);
    const x = tf.div(
      tf.tensor4d(set.images, [set.count, 9, 7, 3], "float32"),
      255,
    ) as tf.Tensor4D;
    const y = tf.add(
      tf.conv2d(x, tf.tensor4d(stem.kernel, stem.kernelShape), 1, "valid"),
      tf.tensor1d(stem.bias),
    );
    assert.deepEqual(y.shape, [40, 8, 6, 24]);
    const rows = tf.reshape(y, [-1, 24]).arraySync() as number[][];
    const mean = new Array(24).fill(0);
    for (const r of rows) r.forEach((v, i) => (mean[i] += v / rows.length));
    for (const m of mean) assert.ok(Math.abs(m) < 1e-4, `mean ${m}`);
    for (let i = 0; i < d; i++) {
      const want = eps === 0 ? 1 : stem.eigen.values[i]! /
        (stem.eigen.values[i]! + stem.eps);
      for (let j = 0; j < 24; j++) {
        let c = 0;
        for (const r of rows) c += r[i]! * r[j]! / rows.length;
        // The second half is the negation of the first.
        const target = j === i ? want : j === i + d ? -want : 0;
        assert.ok(
          Math.abs(c - target) < 2e-3,
          `eps ${eps}: covariance (${i}, ${j}) = ${c}, want ${target}`,
        );
      }
    }
    tf.dispose([x, y]);
  }
});

Deno.test("whitening: patch statistics and eigendecomposition match NumPy's on a fixed case", async () => {
  const set = smoothImages(6, 8, 10, 11);
  const ours = patchStatistics(set, 2);
  const eig = symmetricEigen(ours.covariance, 12);
  const script = `
import json, sys
import numpy as np
d = json.load(sys.stdin)
x = np.array(d["images"], dtype=np.float64).reshape(d["shape"]) / 255
n, h, w, c = x.shape
# Every 2x2 patch flattened as (dy, dx, channel), Keras' kernel order.
p = np.lib.stride_tricks.sliding_window_view(x, (2, 2), axis=(1, 2))
p = p.transpose(0, 1, 2, 4, 5, 3).reshape(-1, 4 * c)
cov = np.cov(p, rowvar=False, bias=True)
vals, vecs = np.linalg.eigh(cov)
json.dump({"count": len(p), "mean": p.mean(0).tolist(), "cov": cov.ravel().tolist(),
           "vals": vals[::-1].tolist(), "vecs": vecs[:, ::-1].T.ravel().tolist()}, sys.stdout)
`;
  const child = new Deno.Command("/usr/bin/python3", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify({
    images: [...set.images],
    shape: [set.count, ...set.shape],
  })));
  await writer.close();
  const out = await child.output();
  assert.ok(out.success, "python3 with numpy runs");
  const np = JSON.parse(new TextDecoder().decode(out.stdout));
  assert.equal(ours.patches, np.count);
  ours.mean.forEach((m, i) => assert.ok(Math.abs(m - np.mean[i]) < 1e-12));
  ours.covariance.forEach((v, i) => assert.ok(Math.abs(v - np.cov[i]) < 1e-12));
  for (let k = 0; k < 12; k++) {
    assert.ok(Math.abs(eig.values[k]! - np.vals[k]) < 1e-12, `value ${k}`);
    // Eigenvectors are defined up to sign.
    let dot = 0;
    for (let i = 0; i < 12; i++) {
      dot += eig.vectors[k * 12 + i]! * np.vecs[k * 12 + i];
    }
    assert.ok(Math.abs(Math.abs(dot) - 1) < 1e-8, `vector ${k}: |dot| ${dot}`);
  }
});

Deno.test("whitening: maxImages limits the patches, constant images are refused, kernel size is checked", () => {
  const set = smoothImages(5, 6, 6, 1);
  assert.equal(patchStatistics(set, 2, 2).patches, 2 * 25);
  assert.equal(patchStatistics(set, 3).dimension, 27);
  const flat: ImageSet = { ...set, images: new Uint8Array(set.images.length) };
  assert.throws(() => whiteningStem(flat), /do not vary/);
  assert.throws(() => patchStatistics(set, 7), /kernel size/);
  assert.throws(() => whiteningStem(set, { eps: -1 }), /eps/);
});
