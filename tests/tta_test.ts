/**
 * Test-time augmentation (`src/train/tta.ts`) against averaging by hand:
 * each view is rebuilt with index arithmetic (mirror, one-pixel shift with
 * reflection), each view's probabilities come from a separate prediction,
 * and the weighted mean is taken in float64; `ttaProbabilities`,
 * `evaluate`, `predictImages` and the `Classifier` must agree with it on
 * the `cpu` backend and on `wasm` at 1 and 2 threads, for a model ending in
 * softmax and one giving logits.
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import type { Sequential } from "../src/nn/sequential.ts";
import { initRuntime, setKernelThreads } from "../src/runtime/init.ts";
import { Classifier } from "../src/serve/classifier.ts";
import { evaluate, predictImages } from "../src/train/evaluate.ts";
import {
  describeTta,
  resolveTta,
  ttaProbabilities,
  ttaView,
  ttaViews,
} from "../src/train/tta.ts";
import type { ImageSet } from "../src/data/image_set.ts";
import { Rng } from "../src/util/random.ts";
import { convHeadNet } from "./classify_fixtures.ts";

await initRuntime({ backend: "wasm", threads: 2 });

/** The backends every comparison runs on: cpu, wasm at 1 and 2 threads. */
const SETUPS = [
  { name: "cpu", backend: "cpu", threads: 1 },
  { name: "wasm 1 thread", backend: "wasm", threads: 1 },
  { name: "wasm 2 threads", backend: "wasm", threads: 2 },
] as const;

async function onEach(
  fn: (name: string) => Promise<void>,
): Promise<void> {
  for (const s of SETUPS) {
    await tf.setBackend(s.backend);
    if (s.backend === "wasm") setKernelThreads(s.threads);
    await fn(s.name);
  }
  await tf.setBackend("wasm");
  setKernelThreads(2);
}

const reflect = (k: number, n: number) =>
  k < 0 ? -k : k > n - 1 ? 2 * (n - 1) - k : k;

/** One view of NHWC `x`, by index arithmetic: shifted by dy, dx (reflected), then mirrored. */
function viewByHand(
  x: Float32Array,
  [n, h, w, c]: number[],
  dy: number,
  dx: number,
  flip: boolean,
): Float32Array {
  const out = new Float32Array(x.length);
  for (let b = 0; b < n!; b++) {
    for (let i = 0; i < h!; i++) {
      for (let j = 0; j < w!; j++) {
        const jj = flip ? w! - 1 - j : j;
        const si = reflect(i - dy, h!);
        const sj = reflect(jj - dx, w!);
        for (let k = 0; k < c!; k++) {
          out[((b * h! + i) * w! + j) * c! + k] =
            x[((b * h! + si) * w! + sj) * c! + k]!;
        }
      }
    }
  }
  return out;
}

function model(logits: boolean, seed: number, shape = [6, 7, 3]): Sequential {
  return convHeadNet(shape, 5, logits ? "linear" : "softmax", seed);
}

function randomImages(n: number, [h, w, c]: number[], seed: number): ImageSet {
  const rng = new Rng(seed);
  return {
    images: new Uint8Array(n * h! * w! * c!).map(() => rng.int(256)),
    labels: new Uint8Array(n).map(() => rng.int(5)),
    count: n,
    shape: [h!, w!, c!],
  };
}

/** Probabilities of the model for `x`, by hand: softmax of logits in float64. */
async function probsByHand(m: Sequential, x: tf.Tensor, logits: boolean) {
  const y = m.apply(x);
  const v = Float64Array.from(await y.data());
  y.dispose();
  if (!logits) return v;
  const k = m.outputShape[0]!;
  for (let r = 0; r < v.length / k; r++) {
    const row = v.subarray(r * k, (r + 1) * k);
    const max = Math.max(...row);
    let sum = 0;
    for (let i = 0; i < k; i++) sum += row[i] = Math.exp(row[i]! - max);
    for (let i = 0; i < k; i++) row[i]! /= sum;
  }
  return v;
}

/** Airbench's weights: 1/2 untranslated, 1/4 per translation, halved by the mirror. */
const HAND_VIEWS = {
  mirror: [[0, 0, false, 0.5], [0, 0, true, 0.5]],
  translate: [
    [0, 0, false, 0.25],
    [0, 0, true, 0.25],
    [1, 1, false, 0.125],
    [1, 1, true, 0.125],
    [-1, -1, false, 0.125],
    [-1, -1, true, 0.125],
  ],
} as const;

async function averageByHand(
  m: Sequential,
  x: Float32Array,
  shape: number[],
  logits: boolean,
  views: readonly (readonly [number, number, boolean, number])[],
): Promise<Float64Array> {
  let sum: Float64Array | null = null;
  for (const [dy, dx, flip, weight] of views) {
    const v = tf.tensor(viewByHand(x, shape, dy, dx, flip), shape);
    const p = await probsByHand(m, v, logits);
    v.dispose();
    sum ??= new Float64Array(p.length);
    for (let i = 0; i < p.length; i++) sum[i]! += weight * p[i]!;
  }
  return sum!;
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

Deno.test("tta: settings resolve to the views and weights airbench uses", () => {
  assert.equal(resolveTta(undefined), null);
  assert.equal(resolveTta(false), null);
  assert.equal(resolveTta({ flip: false }), null);
  assert.deepEqual(resolveTta(true), { flip: true, translate: false });
  assert.deepEqual(resolveTta({ translate: true }), {
    flip: true,
    translate: true,
  });
  for (
    const [setting, hand] of [[true, HAND_VIEWS.mirror], [
      { translate: true },
      HAND_VIEWS.translate,
    ]] as const
  ) {
    const views = ttaViews(setting).map((v) =>
      [v.dy, v.dx, v.flip, v.weight] as const
    );
    assert.deepEqual(views, hand);
  }
  const plain = ttaViews({ flip: false, translate: true });
  assert.deepEqual(plain.map((v) => v.weight), [0.5, 0.25, 0.25]);
  assert.equal(ttaViews(undefined).length, 1);
  assert.equal(describeTta(true), "mirror");
  assert.equal(
    describeTta({ translate: true }),
    "mirror + 1-pixel translations",
  );
  assert.equal(describeTta(false), "none");
});

Deno.test("tta: each view equals the mirror and the reflected shift by index arithmetic", async () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 4; trial++) {
    const shape = [
      1 + rng.int(3),
      2 + rng.int(6),
      2 + rng.int(6),
      1 + rng.int(4),
    ];
    const x = Float32Array.from(
      { length: shape.reduce((a, b) => a * b, 1) },
      () => rng.next(),
    );
    await onEach(async (name) => {
      for (const [dy, dx] of [[0, 0], [1, 1], [-1, -1], [1, -1], [0, 1]]) {
        for (const flip of [false, true]) {
          const t = tf.tensor4d(x, shape as [number, number, number, number]);
          const v = ttaView(t, { dy: dy!, dx: dx!, flip });
          const got = await v.data();
          tf.dispose([t, v]);
          const want = viewByHand(x, shape, dy!, dx!, flip);
          assert.equal(
            maxDiff(got, want),
            0,
            `${name} [${shape}] dy ${dy} dx ${dx} flip ${flip}`,
          );
        }
      }
    });
  }
});

Deno.test("tta: probabilities, evaluate and predictImages equal the hand average of separate predictions", async () => {
  const shape = [6, 7, 3];
  const data = randomImages(9, shape, 3);
  const x = Float32Array.from(data.images, (b) => b / 255);
  for (const logits of [false, true]) {
    for (const mode of ["mirror", "translate"] as const) {
      const setting = mode === "mirror" ? true : { translate: true };
      await onEach(async (name) => {
        const m = model(logits, 11);
        const what = `${name}, ${logits ? "logits" : "softmax"}, ${mode}`;
        const want = await averageByHand(
          m,
          x,
          [9, ...shape],
          logits,
          HAND_VIEWS[mode],
        );
        const t = tf.tensor4d(x, [9, 6, 7, 3]);
        const p = ttaProbabilities(t, (b) => {
          const y = m.apply(b);
          return logits ? tf.softmax(y) : y;
        }, setting);
        assert.ok(maxDiff(await p.data(), want) < 1e-6, what);
        tf.dispose([t, p]);
        // predictImages with 4 images per batch: batches do not matter.
        const predicted = await predictImages(m, data, 4, { tta: setting });
        assert.ok(maxDiff(predicted, want) < 1e-6, `predictImages ${what}`);
        // evaluate: Keras' clipped cross-entropy and accuracy of the mean.
        let loss = 0;
        let hits = 0;
        for (let i = 0; i < 9; i++) {
          const row = Array.from(want.subarray(i * 5, i * 5 + 5));
          const pTrue = Math.min(
            Math.max(row[data.labels[i]!]!, 1e-7),
            1 - 1e-7,
          );
          loss -= Math.log(pTrue) / 9;
          if (row.indexOf(Math.max(...row)) === data.labels[i]) hits++;
        }
        const result = await evaluate(m, data, 4, { tta: setting });
        assert.ok(Math.abs(result.loss - loss) < 1e-5, `loss ${what}`);
        assert.equal(result.accuracy, hits / 9, `accuracy ${what}`);
        m.dispose();
      });
    }
  }
});

Deno.test("tta: the Classifier option averages its own predictions of the mirrored and translated views", async () => {
  const shape = [8, 8, 3];
  const rng = new Rng(21);
  const count = 5;
  const x = Float32Array.from({ length: count * 192 }, () => rng.next());
  for (const logits of [false, true]) {
    await onEach(async (name) => {
      const plain = await Classifier.fromModel(model(logits, 4, shape));
      const withTta = await Classifier.fromModel(model(logits, 4, shape), {
        tta: { translate: true },
      });
      assert.deepEqual(withTta.tta, { flip: true, translate: true });
      assert.equal(plain.tta, null);
      const want = new Float64Array(count * 5);
      for (const [dy, dx, flip, weight] of HAND_VIEWS.translate) {
        const view = viewByHand(x, [count, ...shape], dy, dx, flip);
        const p = await plain.predictPixels(view, count);
        for (let i = 0; i < p.length; i++) want[i]! += weight * p[i]!;
      }
      const got = await withTta.predictPixels(x, count);
      assert.ok(maxDiff(got, want) < 1e-6, `${name} ${logits}`);
      // Probabilities either way: rows sum to 1.
      for (let r = 0; r < count; r++) {
        const s = got.subarray(r * 5, r * 5 + 5).reduce((a, b) => a + b, 0);
        assert.ok(Math.abs(s - 1) < 1e-5);
      }
      plain.dispose();
      withTta.dispose();
    });
  }
});
