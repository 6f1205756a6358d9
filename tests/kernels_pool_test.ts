// simdnet's AvgPool, AvgPoolGrad, MaxPool and MaxPoolGrad against the tfjs
// `cpu` backend on random shapes: pool sizes 1-5, strides 1-4, "same",
// "valid" and numeric padding, odd sizes, at 1 and 2 threads.
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
const rng = createRng(20261207);

interface PoolCase {
  shape: [number, number, number, number];
  pool: [number, number];
  strides: [number, number];
  pad: "same" | "valid" | number;
}

function randomCase(): PoolCase {
  const pool: [number, number] = [randInt(rng, 1, 5), randInt(rng, 1, 5)];
  const kind = rng.int(3);
  const pad = kind === 0 ? "same" : kind === 1 ? "valid" : rng.int(2);
  return {
    shape: [
      randInt(rng, 1, 6),
      randInt(rng, pool[0], 17),
      randInt(rng, pool[1], 17),
      randInt(rng, 1, 19),
    ],
    pool,
    strides: [randInt(rng, 1, 4), randInt(rng, 1, 4)],
    pad,
  };
}

const CASES: PoolCase[] = [
  // airbench's pools: 2x2 stride 2 on odd maps, the final 3x3 stride 3.
  { shape: [4, 15, 15, 32], pool: [2, 2], strides: [2, 2], pad: "valid" },
  { shape: [4, 3, 3, 12], pool: [3, 3], strides: [3, 3], pad: "valid" },
  { shape: [2, 7, 7, 8], pool: [3, 3], strides: [2, 2], pad: "same" },
  ...Array.from({ length: 21 }, randomCase),
];

function label(c: PoolCase): string {
  return `[${c.shape}] pool ${c.pool} strides ${c.strides} pad ${c.pad}`;
}

Deno.test("simdnet runs the four pooling kernels on wasm", () => {
  for (const name of [tf.AvgPool, tf.AvgPoolGrad, tf.MaxPool, tf.MaxPoolGrad]) {
    const k = tf.getKernel(name, "wasm");
    assert.ok(k && isSimdnetKernel(k.kernelFunc), `${name} is not simdnet's`);
  }
});

for (const kind of ["avg", "max"] as const) {
  Deno.test(`${kind} pooling and its gradient match cpu on random shapes`, async () => {
    const pool = kind === "avg" ? tf.avgPool : tf.maxPool;
    for (const c of CASES) {
      const f = (x: tf.Tensor) =>
        pool(x as tf.Tensor4D, c.pool, c.strides, c.pad);
      const y = tf.tidy(() => f(tf.zeros(c.shape)));
      const dy = randomValues(rng, y.shape);
      y.dispose();
      // Distinct values, so a max's position does not depend on rounding.
      const x = randomValues(rng, c.shape);
      const err = await compareBackends([x, dy], (xt, dyt) => {
        const a = { filterSize: c.pool, strides: c.strides, pad: c.pad };
        return [
          f(xt!),
          kind === "avg"
            ? tf.engine().runKernel(
              tf.AvgPoolGrad,
              { dy: dyt!, input: xt! },
              a as never,
            ) as tf.Tensor
            : tf.engine().runKernel(
              tf.MaxPoolGrad,
              { dy: dyt!, input: xt!, output: f(xt!) },
              a as never,
            ) as tf.Tensor,
        ];
      }, 1e-6);
      assert.ok(err <= 1e-6, `${kind} ${label(c)}: ${err}`);
    }
  });
}

Deno.test("max pooling's gradient on windows that tile the image: ties, -Inf and NaN windows match cpu exactly", async () => {
  // Windows with stride = size take the kernel's single-pass path. Three
  // values (and -Inf, NaN) make ties the rule: the first maximum in
  // row-major order takes the gradient, a window without a maximum above
  // -Inf takes none.
  const cases: PoolCase[] = [
    { shape: [3, 9, 10, 7], pool: [2, 3], strides: [2, 3], pad: "valid" },
    { shape: [3, 9, 10, 7], pool: [2, 3], strides: [2, 3], pad: "same" },
    { shape: [2, 7, 7, 9], pool: [3, 3], strides: [3, 3], pad: "same" },
    { shape: [5, 31, 31, 8], pool: [2, 2], strides: [2, 2], pad: "valid" },
    { shape: [3, 9, 9, 8], pool: [2, 2], strides: [2, 2], pad: "same" },
    { shape: [2, 8, 10, 6], pool: [2, 2], strides: [2, 2], pad: "same" },
  ];
  const pick = [0, 1, 2, -Infinity, NaN];
  for (const c of cases) {
    const n = c.shape.reduce((a, b) => a * b, 1);
    const x = {
      v: new Float32Array(n).map(() => pick[rng.int(pick.length)]!),
      shape: c.shape,
    };
    const f = (xt: tf.Tensor) =>
      tf.maxPool(xt as tf.Tensor4D, c.pool, c.strides, c.pad);
    const y = tf.tidy(() => f(tf.zeros(c.shape)));
    const dy = randomValues(rng, y.shape);
    y.dispose();
    const err = await compareBackends([x, dy], (xt, dyt) => [
      tf.engine().runKernel(
        tf.MaxPoolGrad,
        { dy: dyt!, input: xt!, output: f(xt!) },
        { filterSize: c.pool, strides: c.strides, pad: c.pad } as never,
      ) as tf.Tensor,
    ], 0);
    assert.equal(err, 0, label(c));
  }
});

Deno.test("max pooling on 2x2 windows of stride 2: ties and -Inf match cpu exactly, whole and clipped windows", async () => {
  // These take the kernel's unrolled 2x2 path where channels are a
  // multiple of 4 and the window is inside the image, the general loop
  // elsewhere (a clipped last row or column, 6 channels). No NaN here: the
  // cpu backend skips NaN where the wasm maximum keeps it.
  const shapes: [number, number, number, number][] = [
    [5, 31, 31, 8],
    [3, 9, 9, 8],
    [2, 8, 10, 6],
    [1, 2, 2, 4],
  ];
  const pick = [0, -0, 1, 2, -Infinity];
  for (const shape of shapes) {
    for (const pad of ["valid", "same"] as const) {
      const n = shape.reduce((a, b) => a * b, 1);
      const x = {
        v: new Float32Array(n).map(() => pick[rng.int(pick.length)]!),
        shape,
      };
      const err = await compareBackends([x], (xt) => [
        tf.maxPool(xt as tf.Tensor4D, 2, 2, pad),
      ], 0);
      assert.equal(err, 0, `[${shape}] ${pad}`);
    }
  }
});
