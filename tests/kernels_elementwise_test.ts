// simdnet's Tile, unary activations (Erf, Tanh, LeakyRelu, GELU and its gradient), Mean/Sum and plain Conv2D kernels
// against the tfjs `cpu` backend on random shapes, at 1 and 2 threads,
// gradients through them included.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "../src/util/random.ts";
import { isSimdnetKernel } from "../src/kernels/register.ts";
import { GELU, GELU_GRAD } from "../src/kernels/custom_kernels.ts";
import { applyActivation } from "../src/nn/activations.ts";
import {
  compareBackends,
  randInt,
  randomValues,
  startWasm2,
} from "./_kernel_compare.ts";

await startWasm2();
const rng = createRng(20261202);

function simdnetRuns(kernel: string): void {
  const k = tf.getKernel(kernel, "wasm");
  assert.ok(k && isSimdnetKernel(k.kernelFunc), `${kernel} is not simdnet's`);
}

function randomShape(rank: number, max: number): number[] {
  return Array.from({ length: rank }, () => randInt(rng, 1, max));
}

Deno.test("Tile and broadcastTo match cpu on random shapes and repeats", async () => {
  simdnetRuns(tf.Tile);
  for (let i = 0; i < 30; i++) {
    const rank = randInt(rng, 1, 6);
    const shape = randomShape(rank, rank > 3 ? 4 : 9);
    const reps = shape.map(() => randInt(rng, 1, 4));
    const err = await compareBackends(
      [randomValues(rng, shape)],
      (x) => tf.tile(x, reps),
      0,
    );
    assert.equal(err, 0, `tile [${shape}] by [${reps}]`);
  }
  // The BatchNorm gradient's case: one per-channel row over N, H, W.
  for (const c of [1, 3, 32, 33]) {
    const err = await compareBackends(
      [randomValues(rng, [1, 1, 1, c])],
      (x) => tf.broadcastTo(x, [5, 7, 3, c]),
      0,
    );
    assert.equal(err, 0, `broadcastTo 1x1x1x${c}`);
  }
});

Deno.test("Tile of int32 matches cpu; an empty tile is empty", async () => {
  await tf.setBackend("wasm");
  const x = tf.tensor2d([1, -2, 3, 4, 5, 6], [2, 3], "int32");
  const got = tf.tile(x, [2, 3]);
  await tf.setBackend("cpu");
  const ref = tf.tile(tf.tensor2d([1, -2, 3, 4, 5, 6], [2, 3], "int32"), [
    2,
    3,
  ]);
  assert.deepEqual(got.arraySync(), ref.arraySync());
  await tf.setBackend("wasm");
  assert.deepEqual(tf.tile(tf.zeros([0, 3]), [2, 1]).shape, [0, 3]);
});

// Tolerances: max |error| over max |cpu|. Erf is A&S 7.1.26 (1.5e-7
// absolute) evaluated in f32; Tanh is 1 - 2 / (e^{2|x|} + 1), a few ulp at 1.
const UNARY: [string, (x: tf.Tensor) => tf.Tensor, number][] = [
  ["Erf", (x) => tf.erf(x), 1e-6],
  ["Tanh", (x) => tf.tanh(x), 1e-6],
  ["LeakyRelu", (x) => tf.leakyRelu(x, 0.3), 3e-7],
];

for (const [name, f, tol] of UNARY) {
  Deno.test(`${name} matches cpu, over its whole range and at the edges`, async () => {
    simdnetRuns(name);
    for (let i = 0; i < 6; i++) {
      const shape = randomShape(randInt(rng, 1, 4), 17);
      const err = await compareBackends(
        [randomValues(rng, shape, [1, 4, 12, 40, 90, 120][i]!)],
        f,
        0,
      );
      assert.ok(err <= tol, `${name} [${shape}]: ${err}`);
    }
    // Edges: ±0, tiny, the ends of exp's normal range, ±Inf, NaN.
    const edges = Float32Array.of(
      0,
      -0,
      1e-30,
      -1e-30,
      -87.3,
      -87.4,
      -104,
      88.7,
      88.8,
      Infinity,
      -Infinity,
      NaN,
      3,
      6,
      7,
    );
    await tf.setBackend("wasm");
    const got = f(tf.tensor(edges)).dataSync();
    await tf.setBackend("cpu");
    const ref = f(tf.tensor(edges)).dataSync();
    edges.forEach((x, i) => {
      const r = ref[i]!, g = got[i]!;
      const ok = Number.isNaN(r)
        ? Number.isNaN(g)
        : Math.abs(r - g) <= tol * Math.max(1, Math.abs(r)) + 1e-37 ||
          r === g;
      assert.ok(ok, `${name}(${x}): cpu ${r}, wasm ${g}`);
    });
  });
}

Deno.test("GELU and its one-pass gradient match the composite on cpu and finite differences", async () => {
  simdnetRuns(GELU);
  simdnetRuns(GELU_GRAD);
  const gelu = (x: tf.Tensor) => applyActivation("gelu", x);
  for (let i = 0; i < 8; i++) {
    const shape = randomShape(randInt(rng, 1, 4), 19);
    const scale = [0.5, 1, 3, 6, 12, 40, 1, 3][i]!;
    // cpu differentiates the composite x/2 (1 + erf(x/√2)); wasm runs
    // SimdnetGelu and SimdnetGeluGrad.
    const err = await compareBackends(
      [randomValues(rng, shape, scale), randomValues(rng, shape)],
      (x, w) => [
        gelu(x!),
        tf.grad((u: tf.Tensor) => tf.sum(tf.mul(gelu(u), w!)))(x!),
      ],
      0,
    );
    assert.ok(err <= 2e-6, `gelu [${shape}] x${scale}: ${err}`);
  }
  // The forward pass keeps the composite's float32 op order: equal bits.
  const x = randomValues(rng, [4, 9, 9, 8], 4);
  await tf.setBackend("wasm");
  const t = tf.tensor(x.v, x.shape);
  const fused = gelu(t).dataSync();
  const composite = tf.mul(
    tf.mul(t, 0.5),
    tf.add(1, tf.erf(tf.mul(t, Math.SQRT1_2))),
  ).dataSync();
  assert.deepEqual(fused, composite);
  // The gradient against central differences of the composite in float64.
  const erf = (z: number) => {
    const a = Math.abs(z), u = 1 / (1 + 0.3275911 * a);
    const q = u * (0.254829592 + u * (-0.284496736 + u * (1.421413741 +
              u * (-1.453152027 + u * 1.061405429))));
    return Math.sign(z) * (1 - q * Math.exp(-a * a));
  };
  const g64 = (z: number) => z / 2 * (1 + erf(z * Math.SQRT1_2));
  const points = Float32Array.of(-6, -2.5, -1, -0.3, 0, 0.2, 0.9, 1.7, 4, 9);
  const grad = tf.grad((u: tf.Tensor) => tf.sum(gelu(u)))(tf.tensor(points))
    .dataSync();
  points.forEach((z, i) => {
    const h = 1e-4;
    const fd = (g64(z + h) - g64(z - h)) / (2 * h);
    assert.ok(
      Math.abs(grad[i]! - fd) < 2e-5,
      `gelu'(${z}): ${grad[i]} vs ${fd}`,
    );
  });
});

Deno.test("Sum and Mean over N, H, W match cpu, gradients included", async () => {
  simdnetRuns(tf.Mean);
  for (let i = 0; i < 12; i++) {
    const shape = [...randomShape(3, 12), randInt(rng, 1, 40)];
    const x = randomValues(rng, shape);
    const err = await compareBackends(
      [x],
      (t) => [
        tf.mean(t, [0, 1, 2]),
        tf.sum(t, [0, 1, 2], true),
        tf.moments(t, [0, 1, 2]).variance,
        tf.grad((u: tf.Tensor) => tf.sum(tf.square(tf.mean(u, [0, 1, 2]))))(
          t,
        ),
      ],
      1e-5,
    );
    assert.ok(err <= 1e-5, `[${shape}]: ${err}`);
  }
  // Other axes stay on tfjs' kernel and still agree. Sums of up to 60
  // values in [-1, 1] in another order differ by up to about n ε Σ|x|,
  // which is 1e-6 of a result that cancels to a tenth of Σ|x|.
  const err = await compareBackends(
    [randomValues(rng, [3, 4, 5])],
    (t) => [tf.mean(t, 1), tf.mean(t), tf.sum(t, [0, 2])],
    1e-6,
  );
  assert.ok(err <= 1e-5, `other axes: ${err}`);
});

Deno.test("Conv2D without bias matches cpu, gradients included", async () => {
  simdnetRuns(tf.Conv2D);
  for (let i = 0; i < 8; i++) {
    const k = [1, 2, 3, 5][rng.int(4)]!;
    const s = randInt(rng, 1, 2) as 1 | 2;
    const pad = rng.int(2) ? "same" : "valid";
    const [b, h, w] = [
      randInt(rng, 1, 24),
      randInt(rng, k, 17),
      randInt(rng, k, 17),
    ];
    const c = randInt(rng, 1, 20), o = 4 * randInt(rng, 1, 6);
    const err = await compareBackends(
      [randomValues(rng, [b!, h!, w!, c]), randomValues(rng, [k, k, c, o])],
      (x, f) => {
        const conv = (u: tf.Tensor, v: tf.Tensor) =>
          tf.conv2d(u as tf.Tensor4D, v as tf.Tensor4D, s, pad);
        const g = tf.grads((u: tf.Tensor, v: tf.Tensor) =>
          tf.sum(tf.square(conv(u, v)))
        )([x!, f!]);
        return [conv(x!, f!), ...g];
      },
      1e-5,
    );
    assert.ok(
      err <= 2e-5,
      `conv ${b}x${h}x${w}x${c} k${k} s${s} ${pad}: ${err}`,
    );
  }
});

Deno.test("small convolutions with a stride past the window match cpu", async () => {
  // XNNPACK, which runs small convolutions, is wrong on these.
  for (
    const [h, w, kh, kw, s, pad] of [
      [6, 13, 1, 5, [3, 1], "same"],
      [9, 9, 2, 2, [3, 3], "same"],
      [8, 8, 1, 1, [2, 2], "valid"],
      [10, 7, 2, 1, [3, 2], "valid"],
    ] as const
  ) {
    const c = randInt(rng, 1, 9), o = randInt(rng, 1, 9);
    const err = await compareBackends(
      [randomValues(rng, [2, h, w, c]), randomValues(rng, [kh, kw, c, o])],
      (x, f) => tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, [...s], pad),
      1e-6,
    );
    assert.ok(err <= 1e-5, `${h}x${w} k${kh}x${kw} s${s} ${pad}: ${err}`);
  }
});
