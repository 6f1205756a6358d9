/**
 * Synthetic report data for the report tests: random images with a little
 * structure, a made-up history and predictions. Deterministic per seed.
 *
 * @module
 */

import { CIFAR10_CLASS_NAMES, type ReportData } from "../src/report/mod.ts";

/** A small seeded PRNG (mulberry32), so fixtures are the same every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` 32×32 RGB images: a class-coloured blob on a noisy gradient. */
export function syntheticImages(
  count: number,
  labels: ArrayLike<number>,
  random: () => number,
): Uint8Array {
  const out = new Uint8Array(count * 32 * 32 * 3);
  for (let n = 0; n < count; n++) {
    const label = labels[n] as number;
    const hue = [label * 25 % 256, 255 - label * 20, (label * 70) % 256];
    const cx = 8 + random() * 16;
    const cy = 8 + random() * 16;
    const r = 5 + random() * 6;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const inside = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
        for (let c = 0; c < 3; c++) {
          const base = inside ? hue[c]! : 40 + y * 4 + c * 20;
          const v = base + (random() - 0.5) * 40;
          out[((n * 32 + y) * 32 + x) * 3 + c] = Math.max(0, Math.min(255, v));
        }
      }
    }
  }
  return out;
}

/** Activations of a made-up conv layer: ReLU of mixed, shifted input channels. */
function syntheticLayer(
  name: string,
  size: number,
  channels: number,
  input: Uint8Array,
  random: () => number,
) {
  const data = new Float32Array(size * size * channels);
  const step = 32 / size;
  for (let c = 0; c < channels; c++) {
    const w = [random() - 0.5, random() - 0.5, random() - 0.5];
    const shift = Math.floor(random() * 3);
    const bias = (random() - 0.5) * 0.2;
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const sy = Math.min(31, y * step + shift);
        const p = (sy * 32 + x * step) * 3;
        const v = w[0]! * input[p]! / 255 + w[1]! * input[p + 1]! / 255 +
          w[2]! * input[p + 2]! / 255 + bias;
        data[(y * size + x) * channels + c] = Math.max(0, v);
      }
    }
  }
  return { name, height: size, width: size, channels, data };
}

/** A complete, plausible ReportData for CIFAR-10-like classes. */
export function syntheticReportData(seed: number = 1): ReportData {
  const random = rng(seed);
  const n = 10;
  const testCount = 1000;
  const yTrue = new Uint8Array(testCount);
  const yPred = new Uint8Array(testCount);
  for (let i = 0; i < testCount; i++) {
    yTrue[i] = i % n;
    // About 70% right; class 3 is never predicted, to show an empty column.
    let p = random() < 0.7 ? yTrue[i]! : Math.floor(random() * n);
    if (p === 3) p = 5;
    yPred[i] = p;
  }
  const trainLabels = Uint8Array.from(
    { length: 25 },
    () => Math.floor(random() * n),
  );
  const sampleLabels = Uint8Array.from(
    { length: 15 },
    () => Math.floor(random() * n),
  );
  const predicted = sampleLabels.map((l, i) => i % 4 === 1 ? (l + 1) % n : l);
  const input = syntheticImages(1, [3], random);
  return {
    title: "simdnet CIFAR-10 CNN",
    settings: {
      epochs: 5,
      "batch size": 64,
      backend: "wasm (SIMD, threads)",
      threads: 2,
      "training time": "312.4 s",
      augmentation: true,
    },
    summary: [
      {
        layer: "conv2d (Conv2D)",
        outputShape: "(None, 32, 32, 32)",
        params: 896,
      },
      {
        layer: "conv2d_1 (Conv2D)",
        outputShape: "(None, 32, 32, 32)",
        params: 9248,
      },
      {
        layer: "max_pooling2d (MaxPooling2D)",
        outputShape: "(None, 16, 16, 32)",
        params: 0,
      },
      { layer: "dense (Dense)", outputShape: "(None, 512)", params: 2097664 },
      { layer: "dense_1 (Dense)", outputShape: "(None, 10)", params: 5130 },
    ],
    history: {
      loss: [1.71, 1.32, 1.15, 1.04, 0.97],
      accuracy: [0.37, 0.52, 0.59, 0.63, 0.66],
      val_loss: [1.38, 1.12, 1.02, 0.95, 0.93],
      val_accuracy: [0.5, 0.6, 0.64, 0.67, 0.68],
    },
    test: { loss: 0.9312, accuracy: 0.6842 },
    yTrue,
    yPred,
    classNames: CIFAR10_CLASS_NAMES,
    trainSamples: {
      images: syntheticImages(25, trainLabels, random),
      labels: trainLabels,
    },
    predictionSamples: {
      images: syntheticImages(15, sampleLabels, random),
      labels: sampleLabels,
      predicted,
    },
    featureMaps: {
      input,
      inputLabel: 3,
      layers: [
        syntheticLayer("conv2d", 32, 32, input, random),
        syntheticLayer("conv2d_1", 32, 32, input, random),
        syntheticLayer("conv2d_2", 16, 64, input, random),
        syntheticLayer("conv2d_3", 16, 64, input, random),
      ],
    },
  };
}
