/**
 * The fast recipe's augmentation (src/train/augment_flip_translate.ts)
 * against a by-hand version built from tfjs' own ops (`mirrorPad` in
 * `reflect` mode, `reverse`, `slice`) on the cpu backend with the same
 * draws, and the alternating flip against its definition.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import { toFloatBatch } from "../src/data/batch.ts";
import type { ImageSet } from "../src/data/image_set.ts";
import {
  alternatingFlipBits,
  flippedInEpoch,
  flipTranslateBatch,
  reflectIndex,
} from "../src/train/augment_flip_translate.ts";
import { Rng } from "../src/util/random.ts";

await tf.setBackend("cpu");

function randomSet(n: number, h: number, w: number, seed: number): ImageSet {
  const rng = new Rng(seed);
  const images = new Uint8Array(n * h * w * 3).map(() => rng.int(256));
  return { images, labels: new Uint8Array(n), count: n, shape: [h, w, 3] };
}

/** The augmented bytes of one image, from tfjs ops. */
function byHand(
  set: ImageSet,
  index: number,
  mirror: boolean,
  pad: number,
  dy: number,
  dx: number,
): number[] {
  const [h, w, c] = set.shape;
  return tf.tidy(() => {
    const size = h * w * c;
    let img: tf.Tensor3D = tf.tensor3d(
      Array.from(set.images.subarray(index * size, (index + 1) * size)),
      [h, w, c],
      "int32",
    );
    if (mirror) img = tf.reverse(img, 1);
    const padded = tf.mirrorPad(
      img,
      [[pad, pad], [pad, pad], [0, 0]],
      "reflect",
    );
    return Array.from(
      tf.slice(padded, [pad + dy, pad + dx, 0], [h, w, c]).dataSync(),
    );
  });
}

Deno.test("augment_flip: translation with reflection and the alternating flip match tfjs mirrorPad/reverse/slice with the same draws", () => {
  const set = randomSet(9, 7, 6, 1);
  const flips = alternatingFlipBits(set.count, new Rng(2));
  const indices = [4, 0, 8, 4, 1, 7, 2];
  let mirrored = 0;
  let shifted = 0;
  for (const pad of [1, 2, 3]) {
    for (let epoch = 0; epoch < 4; epoch++) {
      const rng = new Rng(100 * pad + epoch);
      const replay = new Rng(100 * pad + epoch);
      const batch = flipTranslateBatch(set, indices, {
        flips,
        epoch,
        pad,
        rng,
      });
      const size = 7 * 6 * 3;
      indices.forEach((index, b) => {
        const dy = replay.int(2 * pad + 1) - pad;
        const dx = replay.int(2 * pad + 1) - pad;
        const mirror = ((flips[index]! + epoch) % 2) === 1;
        if (mirror) mirrored++;
        if (dy !== 0 || dx !== 0) shifted++;
        const got = Array.from(batch.subarray(b * size, (b + 1) * size))
          .map((v) => Math.round(v * 255));
        assert.deepEqual(
          got,
          byHand(set, index, mirror, pad, dy, dx),
          `pad ${pad} epoch ${epoch} image ${index}`,
        );
      });
      assert.deepEqual(rng.state, replay.state, "two draws per image");
    }
  }
  assert.ok(mirrored > 0 && shifted > 0, "the case exercises both");
});

Deno.test("augment_flip: each image alternates between epochs; about half are flipped in epoch 0", () => {
  const flips = alternatingFlipBits(10000, new Rng(3));
  const first = flips.reduce((n, b) => n + b, 0);
  assert.ok(first > 4800 && first < 5200, `${first} of 10000 flipped`);
  for (let i = 0; i < 100; i++) {
    for (let epoch = 0; epoch < 6; epoch++) {
      assert.notEqual(
        flippedInEpoch(flips, i, epoch),
        flippedInEpoch(flips, i, epoch + 1),
      );
      assert.equal(
        flippedInEpoch(flips, i, epoch),
        flips[i] === (epoch % 2 === 0 ? 1 : 0),
      );
    }
  }
  assert.deepEqual(
    alternatingFlipBits(50, new Rng(9)),
    alternatingFlipBits(50, new Rng(9)),
  );
});

Deno.test("augment_flip: with pad 0 and no flips it is toFloatBatch; the values are byte / 255", () => {
  const set = randomSet(5, 4, 3, 7);
  const indices = [3, 1, 4];
  const rng = new Rng(1);
  const before = rng.state;
  const got = flipTranslateBatch(set, indices, {
    flips: null,
    epoch: 1,
    pad: 0,
    rng,
  });
  assert.deepEqual(got, toFloatBatch(set, indices));
  assert.deepEqual(rng.state, before, "no draws without translation");
  const out = new Float32Array(got.length);
  assert.equal(
    flipTranslateBatch(
      set,
      indices,
      { flips: null, epoch: 0, rng, pad: 1 },
      out,
    ),
    out,
  );
});

Deno.test("augment_flip: reflectIndex is NumPy's reflect; bad pads, indices, flips and buffers are refused", () => {
  assert.deepEqual([-2, -1, 0, 4, 5, 6].map((i) => reflectIndex(i, 5)), [
    2,
    1,
    0,
    4,
    3,
    2,
  ]);
  const set = randomSet(2, 4, 4, 1);
  const rng = new Rng(1);
  assert.throws(
    () => flipTranslateBatch(set, [0], { flips: null, epoch: 0, rng, pad: 4 }),
    /pad must be/,
  );
  assert.throws(
    () => flipTranslateBatch(set, [2], { flips: null, epoch: 0, rng }),
    /index 2/,
  );
  assert.throws(
    () =>
      flipTranslateBatch(set, [0], { flips: new Uint8Array(1), epoch: 0, rng }),
    /flip bits/,
  );
  assert.throws(
    () =>
      flipTranslateBatch(
        set,
        [0],
        { flips: null, epoch: 0, rng },
        new Float32Array(3),
      ),
    /buffer/,
  );
  assert.throws(() => alternatingFlipBits(-1, rng), /count/);
});
