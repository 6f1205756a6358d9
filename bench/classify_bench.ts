/**
 * `deno bench` of `Classifier.classify` with the seed CNN (untrained
 * weights cost the same as trained ones) on the default runtime (WASM SIMD
 * with every core unless SIMDNET_THREADS says otherwise): PNG files in,
 * top-3 out, decoding and resizing included. Images/s = images per
 * iteration / time per iteration.
 *
 *     deno bench --allow-read --allow-env bench/classify_bench.ts
 *
 * @module
 */

import { cifarCnn } from "../src/nn/cifar_cnn.ts";
import { encodePng } from "../src/image/png_encode.ts";
import { Classifier } from "../src/serve/classifier.ts";
import { jpeg, pattern } from "../tests/classify_fixtures.ts";

const classifier = await Classifier.fromModel(cifarCnn({ seed: 1 }), {
  backend: "wasm",
});
const info = classifier.runtime;
console.log(`runtime: ${info.backend}, ${info.threads} thread(s)`);

const cifarPng = (seed: number) =>
  encodePng({
    data: pattern(32, 32, 3, seed),
    width: 32,
    height: 32,
    channels: 3,
  });
const one = cifarPng(0);
const batch = Array.from({ length: 256 }, (_, i) => cifarPng(i + 1));
const photo = jpeg(pattern(640, 480, 3, 7), 640, 480, 90);

// Warm-up: the first pass compiles and sizes the runtime's buffers.
await classifier.classifyBatch(batch);

Deno.bench({
  name: "classify: batch 1, 32x32 PNG",
  group: "classify",
  baseline: true,
}, async () => {
  await classifier.classify(one);
});

Deno.bench({
  name: "classify: batch 256, 32x32 PNGs",
  group: "classify",
}, async () => {
  await classifier.classifyBatch(batch);
});

Deno.bench({
  name: "classify: batch 1, 640x480 JPEG (decode + area resize)",
  group: "classify",
}, async () => {
  await classifier.classify(photo);
});
