// simdnet's broadcasting Add, Sub, Multiply, RealDiv and SquaredDifference
// against the tfjs `cpu` backend on random shapes, at 1 and 2 threads,
// gradients through a BatchNormalization written with them included.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { createRng } from "../src/util/random.ts";
import { isSimdnetKernel } from "../src/kernels/register.ts";
import { broadcastPeriod } from "../src/kernels/binary.ts";
import {
  compareBackends,
  randInt,
  randomValues,
  startWasm2,
} from "./_kernel_compare.ts";

await startWasm2();
const rng = createRng(20261203);

const OPS: [string, (a: tf.Tensor, b: tf.Tensor) => tf.Tensor, number][] = [
  [tf.Add, tf.add, 0],
  [tf.Sub, tf.sub, 0],
  [tf.Multiply, tf.mul, 0],
  // f32 division is correctly rounded, as cpu's double division rounded.
  [tf.RealDiv, tf.div, 0],
  // (a - b) rounds before the square here, not on cpu.
  [tf.SquaredDifference, tf.squaredDifference, 3e-7],
];

Deno.test("broadcastPeriod finds full, scalar and repeated-row operands only", () => {
  assert.equal(broadcastPeriod([2, 3, 4], [2, 3, 4]), 24);
  assert.equal(broadcastPeriod([], [2, 3]), 1);
  assert.equal(broadcastPeriod([1, 1, 1, 5], [2, 3, 4, 5]), 5);
  assert.equal(broadcastPeriod([4, 5], [2, 3, 4, 5]), 20);
  assert.equal(broadcastPeriod([3, 1], [3, 4]), null);
  assert.equal(broadcastPeriod([2, 1, 5], [2, 3, 5]), null);
});

/** An operand shape for `out`: full, scalar, a channel row, a trailing block, or other. */
function operandShape(out: number[]): number[] {
  switch (rng.int(6)) {
    case 0:
      return [];
    case 1:
      return [out[out.length - 1]!];
    case 2:
      return out.map((d, i) => (i === out.length - 1 ? d : 1));
    case 3:
      return out.slice(rng.int(out.length));
    case 4:
      // A broadcast along a trailing axis: tfjs' kernel runs it.
      return out.map((d, i) => (i === out.length - 1 ? 1 : d));
    default:
      return out.slice();
  }
}

for (const [name, f, tol] of OPS) {
  Deno.test(`${name} matches cpu with full, scalar and per-channel operands`, async () => {
    const k = tf.getKernel(name, "wasm");
    assert.ok(k && isSimdnetKernel(k.kernelFunc), `${name} is not simdnet's`);
    for (let i = 0; i < 24; i++) {
      const out = Array.from(
        { length: randInt(rng, 1, 4) },
        () => randInt(rng, 1, 13),
      );
      const [sa, sb] = rng.int(2)
        ? [out, operandShape(out)]
        : [operandShape(out), out];
      const b = randomValues(rng, sb);
      // Divisors away from 0, so the relative error measures the kernel.
      if (name === tf.RealDiv) {
        b.v.forEach((v, j) => (b.v[j] = v + Math.sign(v || 1) * 0.5));
      }
      const err = await compareBackends(
        [randomValues(rng, sa), b],
        f,
        0,
      );
      assert.ok(err <= tol, `${name} [${sa}] [${sb}]: ${err}`);
    }
  });
}

Deno.test("a batch-norm training step written with these ops matches cpu, gradients included", async () => {
  for (let i = 0; i < 6; i++) {
    const c = randInt(rng, 1, 36);
    const shape = [
      randInt(rng, 1, 9),
      randInt(rng, 2, 9),
      randInt(rng, 2, 9),
      c,
    ];
    // A loss weight that varies over N, H, W: with one per channel the
    // input gradient of a batch norm is exactly 0, and only rounding is left.
    const weight = randomValues(rng, shape);
    const err = await compareBackends(
      [
        randomValues(rng, shape, 3),
        randomValues(rng, [c]),
        randomValues(rng, [c]),
        weight,
      ],
      (x, gamma, beta, w) => {
        const bn = (u: tf.Tensor, g: tf.Tensor, bt: tf.Tensor) => {
          const { mean, variance } = tf.moments(u, [0, 1, 2]);
          const inv = tf.mul(g, tf.rsqrt(tf.add(variance, 1e-3)));
          return tf.add(tf.mul(tf.sub(u, mean), inv), bt);
        };
        const loss = (u: tf.Tensor, g: tf.Tensor, bt: tf.Tensor) =>
          tf.sum(tf.mul(bn(u, g, bt), w!));
        return [bn(x!, gamma!, beta!), ...tf.grads(loss)([x!, gamma!, beta!])];
      },
      1e-5,
    );
    assert.ok(err <= 1e-5, `batch norm [${shape}]: ${err}`);
  }
});
