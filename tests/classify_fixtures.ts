/**
 * Shared helpers of the classifier, model file and server tests: a small
 * 32x32 model, generated pixels, and PNG/JPEG files made from them.
 */

// Models are built before any runtime starts: tfjs needs a backend for that.
import "@tensorflow/tfjs-backend-cpu";
import { encode as encodePngFile } from "fast-png";
import { encode as encodeJpegFile } from "jpeg-js";
import { Conv2D } from "../src/nn/conv2d.ts";
import { Dense } from "../src/nn/dense.ts";
import { Dropout } from "../src/nn/dropout.ts";
import { Flatten } from "../src/nn/flatten.ts";
import { MaxPooling2D } from "../src/nn/max_pooling2d.ts";
import { saveModel } from "../src/nn/model_io.ts";
import { Sequential } from "../src/nn/sequential.ts";
import { Rng } from "../src/util/random.ts";
import type { Classifier } from "../src/serve/classifier.ts";
import type { ClassifierEngine } from "../src/serve/handler.ts";

/**
 * A 10-class model on 32x32 RGB with every layer type of the seed CNN, small
 * enough to run in milliseconds on the `cpu` backend.
 */
export function tinyModel(seed: number): Sequential {
  return new Sequential([
    new Conv2D({
      filters: 4,
      kernelSize: 3,
      padding: "same",
      activation: "relu",
    }),
    new MaxPooling2D({ poolSize: 4 }),
    new Dropout(0.25),
    new Flatten(),
    new Dense({ units: 10, activation: "softmax" }),
  ], { inputShape: [32, 32, 3], seed });
}

/** A small softmax classifier of 32x32 RGB with `classes` outputs. */
export function labelledModel(classes: number, seed: number): Sequential {
  return new Sequential([
    new Conv2D({ filters: 2, kernelSize: 3, padding: "same" }),
    new MaxPooling2D({ poolSize: 4 }),
    new Flatten(),
    new Dense({ units: classes, activation: "softmax" }),
  ], { inputShape: [32, 32, 3], seed });
}

const SCRIPTS = [
  "chat",
  "猫",
  "кошка",
  "γάτα",
  "قطة",
  "बिल्ली",
  "🐱 emoji",
  `<b>&amp; 'q"</b>`,
  "a very long class name that goes on and on past any sensible axis width",
];

/**
 * `n` distinct class names in several scripts, with HTML-special
 * characters and names too long for an axis.
 */
export function manyLabels(n: number): string[] {
  return Array.from(
    { length: n },
    (_, i) => `${SCRIPTS[i % SCRIPTS.length]} ${i}`,
  );
}

/** Smooth gradients plus noise: `width x height x channels` bytes, HWC. */
export function pattern(
  width: number,
  height: number,
  channels: number,
  seed: number,
): Uint8Array {
  const rng = new Rng(seed);
  const out = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        const base = c % 3 === 0
          ? (255 * x) / width
          : c % 3 === 1
          ? (255 * y) / height
          : 128 + 100 * Math.sin((x + y) / 5 + seed);
        const v = base + rng.int(40) - 20;
        out[(y * width + x) * channels + c] = Math.max(0, Math.min(255, v));
      }
    }
  }
  return out;
}

/** An 8-bit (or 16-bit) PNG of pixels with 1 to 4 channels. */
export function png(
  data: Uint8Array | Uint16Array,
  width: number,
  height: number,
  channels: number,
  depth: 8 | 16 = 8,
): Uint8Array<ArrayBuffer> {
  return new Uint8Array(
    encodePngFile({ width, height, data, channels, depth }),
  );
}

/** A baseline JPEG of RGB pixels (quality 0..100). */
export function jpeg(
  rgb: Uint8Array,
  width: number,
  height: number,
  quality = 95,
): Uint8Array<ArrayBuffer> {
  const rgba = new Uint8Array(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba.set(rgb.subarray(i * 3, i * 3 + 3), i * 4);
    rgba[i * 4 + 3] = 255;
  }
  return new Uint8Array(
    encodeJpegFile({ data: rgba, width, height }, quality).data,
  );
}

/** Largest absolute difference between two equally long arrays. */
export function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) {
    throw new Error(`lengths differ: ${a.length} vs ${b.length}`);
  }
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}

function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * A well-formed 4x4 palette PNG (valid CRCs and zlib stream) whose pixels
 * all use index 7 of a one-colour palette: a file that only fails while
 * its pixels are converted (fast-png throws a plain `Error` there).
 */
export async function paletteIndexOutOfRangePng(): Promise<Uint8Array> {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, 4);
  view.setUint32(4, 4);
  ihdr.set([8, 3, 0, 0, 0], 8); // depth 8, colour type 3 (palette)
  const rows = new Uint8Array(4 * 5);
  for (let y = 0; y < 4; y++) rows.fill(7, y * 5 + 1, y * 5 + 5);
  const zlib = new Uint8Array(
    await new Response(
      new Blob([rows]).stream().pipeThrough(new CompressionStream("deflate")),
    ).arrayBuffer(),
  );
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", ihdr),
    pngChunk("PLTE", new Uint8Array([255, 0, 0])),
    pngChunk("IDAT", zlib),
    pngChunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A JPEG of noise: its many coefficients make it slow to decode. */
export function noiseJpeg(side: number): Uint8Array<ArrayBuffer> {
  const data = new Uint8Array(side * side * 4);
  let s = 12345;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  return new Uint8Array(
    encodeJpegFile({ data, width: side, height: side }, 90).data,
  );
}

/** A classifier engine whose forward pass waits until the test lets go. */
export interface HeldEngine {
  engine: ClassifierEngine;
  /** Resolves once a forward pass has started (and is being held). */
  busy: Promise<void>;
  /** Lets every held forward pass run. */
  release: () => void;
}

/** Wraps the real `classifier` so its forward pass is held at a gate. */
export function heldEngine(classifier: Classifier): HeldEngine {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const busy = new Promise<void>((r) => (entered = r));
  const engine: ClassifierEngine = {
    inputShape: classifier.inputShape,
    classes: classifier.classes,
    runtime: classifier.runtime,
    preprocess: classifier.preprocess.bind(classifier),
    top: classifier.top.bind(classifier),
    predictPixels: async (x: Float32Array, n: number) => {
      entered();
      await gate;
      return await classifier.predictPixels(x, n);
    },
  };
  return { engine, busy, release };
}

/**
 * The smallest convolutional classifier: Conv2D (4 filters, 3x3, same,
 * relu), Flatten and a Dense of `units` with `head` as its activation.
 */
export function convHeadNet(
  inputShape: number[],
  units: number,
  head: "softmax" | "linear",
  seed: number,
): Sequential {
  return new Sequential([
    new Conv2D({
      filters: 4,
      kernelSize: 3,
      padding: "same",
      activation: "relu",
    }),
    new Flatten(),
    new Dense({ units, activation: head }),
  ], { inputShape, seed });
}

/**
 * Runs `run` with a temporary folder holding `tinyModel(seed)` saved in
 * its `model` subfolder (`run` gets the folder and the model's path), then
 * removes both.
 */
export async function withSavedModel(
  prefix: string,
  seed: number,
  run: (dir: string, model: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix });
  const model = tinyModel(seed);
  try {
    await saveModel(model, `${dir}/model`);
    await run(dir, `${dir}/model`);
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
}
