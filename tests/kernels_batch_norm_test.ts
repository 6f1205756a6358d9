// simdnet's batch normalization kernels against independent references,
// on random shapes, at 1 and 2 threads: FusedBatchNorm (inference) against
// the tfjs `cpu` backend, with and without offset and scale; the training
// kernels SimdnetMoments against a float64 computation and
// SimdnetBatchNormGrad against tfjs' automatic differentiation of the
// formula through tf.moments on `cpu`.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "../src/util/random.ts";
import { isSimdnetKernel } from "../src/kernels/register.ts";
import { setKernelThreads } from "../src/runtime/init.ts";
import { batchNormTrain } from "../src/nn/batch_norm_train.ts";
import { BATCH_NORM_GRAD, MOMENTS } from "../src/kernels/custom_kernels.ts";
import {
  compareBackends,
  randInt,
  randomValues,
  relErr,
  startWasm2,
} from "./_kernel_compare.ts";

await startWasm2();
const rng = createRng(20261208);

Deno.test("FusedBatchNorm matches cpu with per-channel statistics", async () => {
  const k = tf.getKernel(tf.FusedBatchNorm, "wasm");
  assert.ok(k && isSimdnetKernel(k.kernelFunc));
  for (let i = 0; i < 20; i++) {
    const rank = randInt(rng, 1, 4);
    const shape = Array.from({ length: rank }, () => randInt(rng, 1, 11));
    const c = shape[rank - 1]!;
    const stat = rng.int(2) ? [c] : [...shape.slice(0, -1).map(() => 1), c];
    const variance = randomValues(rng, stat);
    variance.v.forEach((v, j) => (variance.v[j] = Math.abs(v) + 0.1));
    const withOffset = rng.int(2) === 1, withScale = rng.int(2) === 1;
    const eps = [1e-3, 1e-5][rng.int(2)]!;
    const err = await compareBackends(
      [
        randomValues(rng, shape, 4),
        randomValues(rng, stat),
        variance,
        randomValues(rng, stat),
        randomValues(rng, stat),
      ],
      (x, m, v, o, s) =>
        tf.batchNorm(
          x!,
          m!,
          v!,
          withOffset ? o : undefined,
          withScale ? s : undefined,
          eps,
        ),
      0,
    );
    assert.ok(
      err <= 1e-6,
      `[${shape}] stats [${stat}] offset ${withOffset} scale ${withScale}: ${err}`,
    );
  }
  // Statistics that are not per channel go to tfjs' kernel and still agree.
  const err = await compareBackends(
    [randomValues(rng, [2, 3, 4]), randomValues(rng, [2, 1, 1]), {
      v: Float32Array.of(1, 2),
      shape: [2, 1, 1],
    }],
    (x, m, v) => tf.batchNorm(x!, m!, v!),
    0,
  );
  assert.ok(err <= 1e-6);
});

// A random [..., C] shape of rank 1-4 with at most about 4e4 values.
function randomShape(): number[] {
  const rank = randInt(rng, 1, 4);
  const shape = Array.from({ length: rank }, () => randInt(rng, 1, 13));
  shape[rank - 1] = randInt(rng, 1, 37);
  return shape;
}

Deno.test("SimdnetMoments: batch mean and biased variance as a float64 computation gives, offset means included", async () => {
  for (const name of [MOMENTS, BATCH_NORM_GRAD]) {
    const k = tf.getKernel(name, "wasm");
    assert.ok(k && isSimdnetKernel(k.kernelFunc), name);
  }
  await tf.setBackend("wasm");
  for (let i = 0; i < 24; i++) {
    const shape = i === 0 ? [512, 15, 15, 32] : randomShape();
    const C = shape[shape.length - 1]!;
    const rows = shape.reduce((a, b) => a * b, 1) / C;
    // Some channels far from zero: a mean of 1000 over deviations of 1
    // defeats Σx² - n mean² in float32.
    const x = randomValues(rng, shape, 2);
    const shift = Array.from({ length: C }, () => rng.int(2) ? 1000 : 0);
    x.v.forEach((v, j) => (x.v[j] = v + shift[j % C]!));
    const mean = new Float64Array(C), sq = new Float64Array(C);
    x.v.forEach((v, j) => (mean[j % C]! += v));
    mean.forEach((m, c) => (mean[c] = m / rows));
    x.v.forEach((v, j) => (sq[j % C]! += (v - mean[j % C]!) ** 2));
    const results: Float32Array[][] = [];
    for (const threads of [1, 2]) {
      setKernelThreads(threads);
      const [m, v] = tf.tidy(() =>
        tf.engine().runKernel(MOMENTS, {
          x: tf.tensor(x.v, shape),
        }) as tf.Tensor[]
      );
      results.push([
        m!.dataSync() as Float32Array,
        v!.dataSync() as Float32Array,
      ]);
      assert.deepEqual(m!.shape, [C]);
      tf.dispose([m!, v!]);
    }
    for (const [m, v] of results) {
      for (let c = 0; c < C; c++) {
        const want = sq[c]! / rows;
        assert.ok(
          Math.abs(m![c]! - mean[c]!) <= 1e-6 * (Math.abs(mean[c]!) + 1),
          `[${shape}] mean ${c}: ${m![c]} against ${mean[c]}`,
        );
        assert.ok(
          Math.abs(v![c]! - want) <= 1e-5 * want + 1e-7,
          `[${shape}] variance ${c}: ${v![c]} against ${want}`,
        );
      }
    }
    assert.ok(relErr(results[0]![1]!, results[1]![1]!) <= 1e-6);
  }
});

Deno.test("SimdnetBatchNormGrad: dx, dgamma and dbeta match tfjs' own differentiation of the formula on cpu", async () => {
  for (let i = 0; i < 16; i++) {
    const shape = i === 0 ? [64, 7, 7, 128] : randomShape();
    const C = shape[shape.length - 1]!;
    const eps = [1e-3, 1e-12][rng.int(2)]!;
    const x = randomValues(rng, shape, 3);
    const shift = rng.int(3) === 0 ? 50 : 0;
    x.v.forEach((v, j) => (x.v[j] = v + shift));
    const err = await compareBackends(
      [
        x,
        randomValues(rng, [C]),
        randomValues(rng, [C]),
        randomValues(rng, shape),
      ],
      (xt, g, b, w) => {
        // The loss Σ w ⊙ y, so that dy = w.
        const loss = tf.getBackend() === "cpu"
          ? (xs: tf.Tensor, gs: tf.Tensor, bs: tf.Tensor) => {
            const axes = shape.slice(0, -1).map((_, a) => a);
            const m = tf.moments(xs, axes);
            const y = tf.add(
              tf.mul(
                tf.div(tf.sub(xs, m.mean), tf.sqrt(tf.add(m.variance, eps))),
                gs,
              ),
              bs,
            );
            return tf.sum(tf.mul(y, w!));
          }
          : (xs: tf.Tensor, gs: tf.Tensor, bs: tf.Tensor) => {
            const r = batchNormTrain(
              xs,
              gs as tf.Tensor1D,
              bs as tf.Tensor1D,
              eps,
            );
            tf.dispose([r.mean, r.variance]);
            return tf.sum(tf.mul(r.y, w!));
          };
        return tf.grads(loss)([xt!, g!, b!]);
      },
      1e-5,
    );
    assert.ok(err <= 2e-5, `[${shape}] eps ${eps} shift ${shift}: ${err}`);
  }
});
