// simdnet's reductions over the middle axes (global average and max
// pooling: Mean, Sum, Max over H, W of NHWC) against the tfjs `cpu`
// backend on random shapes, at 1 and 2 threads, with their gradients.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "../src/util/random.ts";
import { middleAxes } from "../src/kernels/reduce_rows.ts";
import {
  compareBackends,
  randInt,
  randomValues,
  startWasm2,
} from "./_kernel_compare.ts";

await startWasm2();
const rng = createRng(20261206);

Deno.test("middleAxes takes exactly axes 1 .. rank-2 of a non-empty float32 tensor", () => {
  const t = (shape: number[], dtype: tf.DataType = "float32") => ({
    dataId: {},
    shape,
    dtype,
  });
  assert.ok(middleAxes(t([2, 3, 4, 5]), [1, 2]));
  assert.ok(middleAxes(t([2, 3, 5]), [1]));
  assert.ok(!middleAxes(t([2, 3, 4, 5]), [0, 1, 2]));
  assert.ok(!middleAxes(t([2, 3, 4, 5]), [1]));
  assert.ok(!middleAxes(t([2, 3, 4, 5], "int32"), [1, 2]));
  assert.ok(!middleAxes(t([2, 0, 4, 5]), [1, 2]));
});

Deno.test("global average and max pooling match cpu, gradients included", async () => {
  for (let i = 0; i < 16; i++) {
    const shape = [
      randInt(rng, 1, 12),
      randInt(rng, 1, 15),
      randInt(rng, 1, 15),
      randInt(rng, 1, 40),
    ];
    const keep = rng.int(2) === 1;
    const err = await compareBackends([randomValues(rng, shape)], (x) => [
      tf.mean(x, [1, 2], keep),
      tf.sum(x, [1, 2], keep),
      tf.max(x, [1, 2], keep),
      tf.grad((u: tf.Tensor) => tf.sum(tf.square(tf.mean(u, [1, 2]))))(x),
      tf.grad((u: tf.Tensor) => tf.sum(tf.square(tf.max(u, [1, 2]))))(x),
    ], 1e-6);
    assert.ok(err <= 1e-5, `[${shape}] keepDims ${keep}: ${err}`);
  }
  // Rank 3 (one middle axis), and NaN wins a max as on cpu.
  const x = randomValues(rng, [3, 7, 5]);
  x.v[12] = NaN;
  const err = await compareBackends([x], (t) => [tf.max(t, 1), tf.mean(t, 1)]);
  assert.ok(err <= 1e-6, `rank 3: ${err}`);
});
