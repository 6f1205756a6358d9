/**
 * `Classifier` on the `cpu` backend: PNG and JPEG files of several sizes and
 * colour modes, raw pixels, tensors and batches, the resizing rules, and
 * errors for what cannot be classified.
 */

import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { modelToArtifacts } from "../src/nn/model_io.ts";
import { Classifier, type Prediction } from "../src/serve/classifier.ts";
import { decodeImage, ImageDecodeError } from "../src/image/image_decode.ts";
import { pixelsToInput } from "../src/image/resize.ts";
import { jpeg, maxDiff, pattern, png, tinyModel } from "./classify_fixtures.ts";

const { json, weights } = await modelToArtifacts(tinyModel(21));
const classifier = await Classifier.fromBytes(json, weights, {
  backend: "cpu",
});

/** Every class's probability by index, from a topK=10 answer. */
function byIndex(predictions: Prediction[]): number[] {
  const out = new Array<number>(10).fill(NaN);
  for (const p of predictions) out[p.index] = p.probability;
  return out;
}

async function probs(input: Parameters<Classifier["classify"]>[0]) {
  return byIndex(await classifier.classify(input, { topK: 10 }));
}

/** The model's own answer for a 32x32 RGB image given as bytes 0..255. */
async function reference(rgb: Uint8Array): Promise<number[]> {
  const x = tf.tensor4d(Float32Array.from(rgb, (v) => v / 255), [1, 32, 32, 3]);
  const y = classifier.model.apply(x);
  const out = Array.from(await y.data());
  tf.dispose([x, y]);
  return out;
}

Deno.test("classify: a 32x32 RGB PNG reaches the model as pixel/255, with labels in both languages", async () => {
  const rgb = pattern(32, 32, 3, 1);
  const got = await classifier.classify(png(rgb, 32, 32, 3), { topK: 3 });
  const want = await reference(rgb);
  assert.equal(got.length, 3);
  const order = [...want.keys()].sort((a, b) => want[b]! - want[a]!);
  assert.deepEqual(got.map((p) => p.index), order.slice(0, 3));
  got.forEach((p) => {
    assert.ok(Math.abs(p.probability - want[p.index]!) < 1e-6);
    assert.equal(typeof p.label, "string");
    assert.notEqual(p.label, p.labelJa);
  });
  assert.equal(got[0]!.label, classifier.labels[got[0]!.index]);
  assert.equal(got[0]!.labelJa, classifier.labelsJa?.[got[0]!.index]);
  const all = await classifier.classify(png(rgb, 32, 32, 3), { topK: 99 });
  assert.equal(all.length, 10);
  assert.ok(Math.abs(all.reduce((s, p) => s + p.probability, 0) - 1) < 1e-5);
});

Deno.test("classify: PNG colour modes: grey, grey+alpha, RGBA, palette, 16-bit and 1-bit match their RGB equivalent", async () => {
  const w = 45, h = 37;
  const grey = pattern(w, h, 1, 2);
  const rgbOfGrey = new Uint8Array(w * h * 3).map((_, i) => grey[(i / 3) | 0]!);
  const base = await probs(png(rgbOfGrey, w, h, 3));

  const greyAlpha = new Uint8Array(w * h * 2).map((_, i) =>
    i % 2 === 0 ? grey[i / 2]! : (i * 37) % 256
  );
  const rgba = new Uint8Array(w * h * 4).map((_, i) =>
    i % 4 === 3 ? (i * 11) % 256 : grey[(i / 4) | 0]!
  );
  const wide = Uint16Array.from(grey, (v) => v * 257);
  for (
    const [what, file] of [
      ["grey", png(grey, w, h, 1)],
      ["grey+alpha", png(greyAlpha, w, h, 2)],
      ["RGBA", png(rgba, w, h, 4)],
      ["16-bit grey", png(wide, w, h, 1, 16)],
    ] as const
  ) {
    assert.ok(maxDiff(await probs(file), base) < 1e-6, what);
  }

  // A palette image and a 1-bit image decode to the pixels they encode.
  const { encode } = await import("fast-png");
  const palette = [[10, 200, 30], [250, 0, 120], [0, 0, 255]];
  const indices = new Uint8Array(w * h).map((_, i) => (i * 7) % 3);
  const indexed = decodeImage(
    encode({
      width: w,
      height: h,
      data: indices,
      channels: 1,
      depth: 8,
      palette,
    }),
  );
  const rgbOfPalette = new Uint8Array(w * h * 3).map((_, i) =>
    palette[indices[(i / 3) | 0]!]![i % 3]!
  );
  assert.deepEqual(indexed.data, rgbOfPalette);
  const bits = new Uint8Array(Math.ceil(w / 8) * h).map((_, i) =>
    (i * 29) % 256
  );
  const oneBit = decodeImage(
    encode({ width: w, height: h, data: bits, channels: 1, depth: 1 }),
  );
  const x = 3, y = 2;
  const bit = (bits[y * Math.ceil(w / 8) + (x >> 3)]! >> (7 - (x & 7))) & 1;
  assert.equal(oneBit.data[y * w + x], bit * 255);
});

Deno.test("classify: resizing averages areas when shrinking and is bilinear when enlarging", () => {
  // 96x64 made of 3x2 blocks: area averaging gives each block's mean.
  const small = pattern(32, 32, 3, 3);
  const big = new Uint8Array(96 * 64 * 3);
  for (let y = 0; y < 64; y++) {
    for (let x = 0; x < 96; x++) {
      for (let c = 0; c < 3; c++) {
        // Each block holds v-1, v, v+1... averaging exactly to v.
        const v = small[(Math.floor(y / 2) * 32 + Math.floor(x / 3)) * 3 + c]!;
        const jitter = (x % 3) - 1;
        big[(y * 96 + x) * 3 + c] = Math.max(1, Math.min(254, v)) + jitter;
      }
    }
  }
  const clamped = small.map((v) => Math.max(1, Math.min(254, v)));
  const got = pixelsToInput(
    { data: big, width: 96, height: 64, channels: 3 },
    32,
    32,
  );
  assert.ok(maxDiff(got, Float32Array.from(clamped, (v) => v / 255)) < 1e-5);

  // Enlarging 12x20 to 32x32 matches tfjs' bilinear with half-pixel centres.
  const tiny = pattern(12, 20, 3, 4);
  const up = pixelsToInput(
    { data: tiny, width: 12, height: 20, channels: 3 },
    32,
    32,
  );
  const want = tf.tidy(() =>
    tf.div(
      tf.image.resizeBilinear(
        tf.tensor4d(Float32Array.from(tiny), [1, 20, 12, 3]),
        [32, 32],
        false,
        true,
      ),
      255,
    ).dataSync()
  );
  assert.ok(maxDiff(up, want) < 1e-5);
});

Deno.test("classify: PNG and JPEG files of several sizes agree with their raw pixels", async () => {
  for (
    const [w, h] of [[32, 32], [7, 5], [100, 60], [257, 300]] as const
  ) {
    const rgb = pattern(w, h, 3, w + h);
    const raw = await probs({ data: rgb, width: w, height: h, channels: 3 });
    assert.ok(
      maxDiff(await probs(png(rgb, w, h, 3)), raw) < 1e-6,
      `png ${w}x${h}`,
    );
    const file = jpeg(rgb, w, h, 95);
    const decoded = decodeImage(file);
    assert.equal(decoded.width, w);
    assert.equal(decoded.height, h);
    assert.equal(decoded.channels, 3);
    // Lossy, but close to the source; and classified from what it holds.
    const input = pixelsToInput(decoded, 32, 32);
    const source = pixelsToInput(
      { data: rgb, width: w, height: h, channels: 3 },
      32,
      32,
    );
    const meanError = input.reduce((s, v, i) =>
      s + Math.abs(v - source[i]!), 0) /
      input.length;
    assert.ok(meanError < 0.03, `jpeg ${w}x${h} mean error ${meanError}`);
    assert.ok(maxDiff(await probs(file), await probs(decoded)) < 1e-6);
  }
});

Deno.test("classify: tensors, raw pixels and batches give the same answers", async () => {
  const rgb = pattern(32, 32, 3, 5);
  const raw = await probs({ data: rgb, width: 32, height: 32, channels: 3 });
  const float = tf.tensor3d(Float32Array.from(rgb, (v) => v / 255), [
    32,
    32,
    3,
  ]);
  const ints = tf.tensor3d(Int32Array.from(rgb), [32, 32, 3]);
  assert.ok(maxDiff(await probs(float), raw) < 1e-6);
  assert.ok(maxDiff(await probs(ints), raw) < 1e-6);

  const other = pattern(50, 40, 4, 6);
  const inputs = [
    png(rgb, 32, 32, 3),
    { data: other, width: 50, height: 40, channels: 4 as const },
    float,
  ];
  const batch = await classifier.classifyBatch(inputs, { topK: 10 });
  assert.equal(batch.length, 3);
  for (let i = 0; i < inputs.length; i++) {
    assert.ok(maxDiff(byIndex(batch[i]!), await probs(inputs[i]!)) < 1e-6);
  }
  const stacked = tf.stack([float, float]) as tf.Tensor4D;
  const both = await classifier.classifyBatch(stacked, { topK: 10 });
  assert.equal(both.length, 2);
  assert.ok(maxDiff(byIndex(both[1]!), raw) < 1e-6);
  assert.deepEqual(await classifier.classifyBatch([]), []);
  tf.dispose([float, ints, stacked]);
});

Deno.test("classify: what cannot be classified is refused with a reason", async () => {
  await assert.rejects(
    classifier.classify(new TextEncoder().encode("GIF89a....")),
    ImageDecodeError,
  );
  await assert.rejects(classifier.classify(new Uint8Array(0)), /empty/);
  const file = png(pattern(20, 20, 3, 7), 20, 20, 3);
  await assert.rejects(
    classifier.classify(file.subarray(0, file.length - 30)),
    /PNG file cannot be decoded/,
  );
  const corrupt = file.slice();
  corrupt[file.length - 20] = 0xff ^ corrupt[file.length - 20]!;
  await assert.rejects(classifier.classify(corrupt), ImageDecodeError);
  const jpegFile = jpeg(pattern(20, 20, 3, 8), 20, 20);
  await assert.rejects(
    classifier.classify(jpegFile.subarray(0, 40)),
    /JPEG file cannot be decoded/,
  );
  // The size limit is checked from the header, before decoding.
  const huge = png(new Uint8Array(3000 * 3000), 3000, 3000, 1);
  assert.throws(
    () => decodeImage(huge, { maxPixels: 1_000_000 }),
    /3000x3000, more than the limit of 1000000 pixels/,
  );
  await assert.rejects(
    classifier.classify({
      data: new Uint8Array(10),
      width: 2,
      height: 2,
      channels: 3,
    }),
    /not 2x2 pixels of 1 \(grey\)/,
  );
  await assert.rejects(classifier.classify(file, { topK: 0 }), /topK/);
});

Deno.test("classify: labels follow the options and the class count", async () => {
  const { json: j5, weights: w5 } = await modelToArtifacts(
    new (await import("../src/nn/sequential.ts")).Sequential([
      new (await import("../src/nn/flatten.ts")).Flatten(),
      new (await import("../src/nn/dense.ts")).Dense({ units: 5 }),
    ], { inputShape: [4, 4, 3], seed: 1 }),
  );
  const five = await Classifier.fromBytes(j5, w5);
  assert.deepEqual(five.labels, [
    "class 0",
    "class 1",
    "class 2",
    "class 3",
    "class 4",
  ]);
  // A linear last layer still gives probabilities.
  const top = await five.classify(png(pattern(9, 9, 3, 1), 9, 9, 3), {
    topK: 5,
  });
  assert.ok(Math.abs(top.reduce((s, p) => s + p.probability, 0) - 1) < 1e-5);
  five.dispose();
  const named = await Classifier.fromBytes(j5, [
    w5.subarray(0, 40),
    w5.subarray(40),
  ], {
    labels: ["a", "b", "c", "d", "e"],
  });
  // Labels other than CIFAR-10's have no Japanese names.
  assert.equal(named.labelsJa, null);
  named.dispose();
  await assert.rejects(
    Classifier.fromBytes(j5, w5, { labels: ["a"] }),
    /labels has 1 names but the model has 5 classes/,
  );
});

Deno.test("classify: warmUp runs the batch sizes asked for, changes no answer and keeps no tensor", async () => {
  const rgb = pattern(32, 32, 3, 7);
  const before = await probs({ data: rgb, width: 32, height: 32, channels: 3 });
  const tensors = tf.memory().numTensors;
  await classifier.warmUp([1, 3]);
  await classifier.warmUp();
  assert.equal(tf.memory().numTensors, tensors);
  const after = await probs({ data: rgb, width: 32, height: 32, channels: 3 });
  assert.deepEqual(after, before);
  for (const bad of [0, 1.5, -2]) {
    await assert.rejects(
      classifier.warmUp([bad]),
      new RegExp(`whole numbers >= 1, got ${bad}`),
    );
  }
});
