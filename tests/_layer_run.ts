/**
 * simdnet's side of the layer tests that check a layer against a formula,
 * finite differences or another simdnet run: runs simdnet layers on given
 * inputs and weights and returns the outputs and the gradients of
 * `sum(y * r)` w.r.t. the input and every weight, on each target (tfjs'
 * cpu backend, wasm at 1 and 2 threads). Comparisons with tfjs-layers go
 * through the child-process harness (`_tfl_conformance.ts`) instead, so
 * that tfjs-layers' gradient configs never enter a test process.
 *
 * @module
 */

import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import assert from "node:assert/strict";
import type { Layer } from "../src/nn/layer.ts";
import { Sequential } from "../src/nn/sequential.ts";
import { setKernelThreads } from "../src/runtime/init.ts";
import { createRng, type Rng } from "../src/util/random.ts";

export { tf };

/** Uniform values in [lo, hi) from `rng`. */
export function randomValues(
  rng: Rng,
  n: number,
  lo = -1,
  hi = 1,
): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = lo + (hi - lo) * rng.next();
  return v;
}

/** A seeded generator for a test. */
export function rngFor(seed: number): Rng {
  return createRng(seed);
}

/** Outputs and gradients of one run. */
export interface RunResult {
  y: Float32Array;
  shape: number[];
  /** d loss / d input. */
  dx: Float32Array;
  /** d loss / d weight, in the layer's weight order. */
  dw: Float32Array[];
  /** Weight values after the run (moving statistics may have moved). */
  after: Float32Array[];
}

/** What a comparison runs on. */
export interface Case {
  x: Float32Array;
  /** Input shape including the batch axis. */
  xShape: number[];
  /** Values of the weights in Keras order (empty for none). */
  weights: Float32Array[];
  /** Loss = sum(y * r): r has y's size. */
  r: Float32Array;
  training: boolean;
}

function lossOf(y: tf.Tensor, r: Float32Array): tf.Scalar {
  return tf.sum(tf.mul(y, tf.tensor(r, y.shape)));
}

/**
 * Runs simdnet's `layers` (a Sequential on `c.xShape`) with `c.weights`;
 * gradients w.r.t. the input and every weight, trainable or not.
 */
export function runOurs(layers: Layer[], c: Case, steps = 1): RunResult {
  const model = new Sequential(layers, {
    inputShape: c.xShape.slice(1),
    seed: 1,
  });
  try {
    const ws = model.weights;
    assert.equal(ws.length, c.weights.length, "weight count");
    model.setWeights(ws.map((w, i) => ({
      name: w.name,
      shape: [...w.variable.shape],
      values: c.weights[i]!,
    })));
    return tf.tidy(() => {
      const x = tf.variable(tf.tensor(c.x, c.xShape));
      const vars = [x, ...ws.map((w) => w.variable)];
      let y: tf.Tensor | null = null;
      let grads: tf.NamedTensorMap = {};
      for (let s = 0; s < steps; s++) {
        const out = tf.variableGrads(() => {
          const out = model.apply(x, {
            training: c.training,
            nextSeed: () => 1,
          });
          y = tf.keep(out);
          return lossOf(out, c.r);
        }, vars);
        grads = out.grads;
      }
      const result = {
        y: y!.dataSync().slice() as Float32Array,
        shape: [...y!.shape],
        dx: grads[x.name]!.dataSync().slice() as Float32Array,
        // A weight off the path to the loss (moving statistics in
        // training) has no gradient: zeros, as tfjs' reference reports.
        dw: ws.map((w) =>
          (grads[w.variable.name] ?? tf.zerosLike(w.variable)).dataSync()
            .slice() as Float32Array
        ),
        after: ws.map((w) => w.variable.dataSync().slice() as Float32Array),
      };
      x.dispose();
      return result;
    });
  } finally {
    model.dispose();
  }
}

/** Largest |a - b| over the largest |b| (1 when b is all zeros). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, "lengths differ");
  let err = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  assert.ok(!Number.isNaN(err), "NaN");
  return err / (scale || 1);
}

/** Asserts two runs agree within `tol` relative, outputs and gradients. */
export function assertClose(
  got: RunResult,
  want: RunResult,
  tol: number,
  what: string,
  opts: { weightsAfter?: boolean } = {},
): void {
  assert.deepEqual(got.shape, want.shape, `${what}: output shape`);
  const check = (a: Float32Array, b: Float32Array, part: string) => {
    const e = relErr(a, b);
    assert.ok(e <= tol, `${what}: ${part} differs by ${e} (relative)`);
  };
  check(got.y, want.y, "output");
  check(got.dx, want.dx, "input gradient");
  got.dw.forEach((g, i) => check(g, want.dw[i]!, `weight ${i} gradient`));
  if (opts.weightsAfter) {
    got.after.forEach((g, i) =>
      check(g, want.after[i]!, `weight ${i} after the run`)
    );
  }
}

/** Where simdnet runs: the cpu backend, and wasm at 1 and 2 threads. */
export const TARGETS = [
  { backend: "cpu", threads: 1 },
  { backend: "wasm", threads: 1 },
  { backend: "wasm", threads: 2 },
] as const;

/** Runs `fn` on each target backend and thread count. */
export async function onEachTarget(
  fn: (label: string) => void | Promise<void>,
): Promise<void> {
  const before = tf.getBackend();
  for (const t of TARGETS) {
    await tf.setBackend(t.backend);
    if (t.backend === "wasm") setKernelThreads(t.threads);
    try {
      await fn(`${t.backend}/${t.threads}`);
    } finally {
      if (t.backend === "wasm") setKernelThreads(Infinity);
    }
  }
  await tf.setBackend(before);
}
