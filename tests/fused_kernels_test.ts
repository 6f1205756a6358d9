// simdnet's own kernels (fused Adam, dropout masks) on the wasm pool against
// their op-by-op and JS definitions.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  initRuntime,
  setKernelThreads,
  setSerialBelow,
} from "../src/runtime/init.ts";
import { adamUpdate } from "../src/train/adam.ts";
import { dropoutMask, dropoutMaskValues } from "../src/nn/dropout_mask.ts";
import { createRng } from "../src/util/random.ts";
import { RELU_GRAD } from "../src/kernels/custom_kernels.ts";

await initRuntime({ backend: "wasm" });
// Small shapes split over the threads too, so they test the splits.
setSerialBelow(0);
const rng = createRng(7);

function random(n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => scale * (2 * rng.next() - 1));
}

// One Adam update of fresh variables on `backend`; returns w', m', v'.
async function adamOn(
  backend: string,
  shape: number[],
  values: Float32Array[],
  alpha: number,
): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const [w, g, m, v] = values.map((x) => tf.tensor(x, shape));
  const wv = tf.variable(w!), mv = tf.variable(m!), vv = tf.variable(v!);
  adamUpdate(wv, g!, mv, vv, alpha, 0.9, 0.999, 1e-7);
  const out = [wv, mv, vv].map((t) => t.dataSync().slice() as Float32Array);
  tf.dispose([w!, g!, m!, v!, wv, mv, vv]);
  return out;
}

Deno.test("fused Adam matches the op-by-op update on cpu", async () => {
  for (const shape of [[1], [3], [17], [4, 5], [3, 3, 32, 64], [4096, 5]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = [
      random(n),
      random(n, 0.1),
      random(n, 0.01),
      Float32Array.from(random(n, 1e-4), Math.abs),
    ];
    const alpha = 0.001 * Math.sqrt(1 - 0.999 ** 3) / (1 - 0.9 ** 3);
    const ref = await adamOn("cpu", shape, values, alpha);
    const got = await adamOn("wasm", shape, values, alpha);
    for (let j = 0; j < 3; j++) {
      for (let i = 0; i < n; i++) {
        const r = ref[j]![i]!, x = got[j]![i]!;
        assert.ok(
          Math.abs(r - x) <= 1e-6 * Math.max(1, Math.abs(r)),
          `[${shape}] output ${j} element ${i}: ${x} vs ${r}`,
        );
      }
    }
  }
  await tf.setBackend("wasm");
});

Deno.test("dropout masks from the pool equal the JS ones bit for bit", async () => {
  await tf.setBackend("wasm");
  const threads = setKernelThreads(Infinity);
  for (
    const [size, rate] of [[1, 0.5], [7, 0.25], [1000, 0.5], [65537, 0.25]]
  ) {
    const seed = Math.floor(rng.next() * 2 ** 32);
    const want = dropoutMaskValues(size!, rate!, seed);
    for (const t of [1, threads]) {
      setKernelThreads(t);
      const mask = dropoutMask([size!], rate!, seed);
      assert.deepEqual(mask.dataSync(), want, `size ${size} threads ${t}`);
      mask.dispose();
    }
  }
  setKernelThreads(threads);
});

Deno.test("dropout masks keep 1 - rate of the elements, scaled", () => {
  const size = 200_000;
  for (const rate of [0.25, 0.5]) {
    const a = dropoutMaskValues(size, rate, 1);
    const b = dropoutMaskValues(size, rate, 2);
    const scale = Math.fround(1 / (1 - rate));
    let kept = 0, same = 0;
    for (let i = 0; i < size; i++) {
      assert.ok(a[i] === 0 || a[i] === scale);
      if (a[i]) kept++;
      if (a[i] === b[i]) same++;
    }
    // Binomial: 5 standard deviations is about 0.6% here.
    assert.ok(Math.abs(kept / size - (1 - rate)) < 0.006, `kept ${kept}`);
    // Another seed gives another mask (agreement of two independent masks).
    const agree = rate * rate + (1 - rate) * (1 - rate);
    assert.ok(Math.abs(same / size - agree) < 0.006, `agreement ${same}`);
  }
});

Deno.test("relu gradient equals dy * step(y) on cpu, NaN and signed zeros included", async () => {
  for (const n of [1, 5, 64, 1001]) {
    const dy = random(n);
    const y = random(n);
    const specials = [0, -0, NaN, Infinity, -Infinity, 1e-30, -1e-30];
    specials.forEach((v, i) => {
      if (i < n) y[i] = v;
    });
    await tf.setBackend("cpu");
    const a = tf.tensor(dy), b = tf.tensor(y);
    const want = tf.mul(a, tf.step(b));
    const ref = want.dataSync().slice();
    tf.dispose([a, b, want]);
    await tf.setBackend("wasm");
    const c = tf.tensor(dy), d = tf.tensor(y);
    const got = tf.engine().runKernel(RELU_GRAD, { dy: c, y: d }) as tf.Tensor;
    assert.deepEqual(got.dataSync(), ref, `n = ${n}`);
    tf.dispose([c, d, got]);
  }
});
