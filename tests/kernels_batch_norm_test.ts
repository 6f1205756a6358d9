// simdnet's FusedBatchNorm (inference BatchNormalization) against the tfjs
// `cpu` backend on random shapes, with and without offset and scale, at 1
// and 2 threads. It is an inference kernel: tfjs' gradient of batchNorm
// is written with other ops.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "../src/util/random.ts";
import { isSimdnetKernel } from "../src/kernels/register.ts";
import {
  compareBackends,
  randInt,
  randomValues,
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
