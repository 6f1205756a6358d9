// Shared by tests/kernels_*_test.ts: runs a tfjs function on the `cpu`
// backend (the reference) and on simdnet's `wasm` at 1 and 2 threads, with
// the same inputs, and measures how far apart they are.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import {
  initRuntime,
  setKernelThreads,
  setSerialBelow,
} from "../src/runtime/init.ts";
import type { Rng } from "../src/util/random.ts";

/**
 * Starts wasm with 2 threads (the tests compare 1 and 2), every call split
 * over both however small, so that small shapes test the splits too.
 */
export async function startWasm2(): Promise<void> {
  const info = await initRuntime({ backend: "wasm", threads: 2 });
  assert.equal(info.backend, "wasm");
  setSerialBelow(0);
}

/** An integer in [lo, hi]. */
export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + rng.int(hi - lo + 1);
}

/** Values uniform in [-scale, scale). */
export function randomValues(rng: Rng, shape: number[], scale = 1) {
  const n = shape.reduce((a, b) => a * b, 1);
  return {
    v: new Float32Array(n).map(() => (2 * rng.next() - 1) * scale),
    shape,
  };
}

/** Max |ref - got| over max |ref| (1 when ref is all zeros); NaN fails. */
export function relErr(ref: Float32Array, got: Float32Array): number {
  assert.equal(got.length, ref.length);
  let err = 0, scale = 0;
  for (let i = 0; i < ref.length; i++) {
    if (Number.isNaN(ref[i]!) !== Number.isNaN(got[i]!)) {
      assert.fail(`element ${i}: cpu ${ref[i]}, wasm ${got[i]}`);
    }
    if (Number.isNaN(ref[i]!)) continue;
    if (ref[i] === got[i]) continue;
    err = Math.max(err, Math.abs(ref[i]! - got[i]!));
    scale = Math.max(scale, Math.abs(ref[i]!));
  }
  return err / (scale || 1);
}

type Values = { v: Float32Array; shape: number[] };

async function runOn(
  backend: string,
  inputs: Values[],
  f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
): Promise<Values[]> {
  await tf.setBackend(backend);
  return tf.tidy(() => {
    const xs = inputs.map(({ v, shape }) => tf.tensor(v, shape));
    const ys = f(...xs);
    return (Array.isArray(ys) ? ys : [ys]).map((y) => ({
      v: Float32Array.from(y.dataSync() as Float32Array),
      shape: y.shape,
    }));
  });
}

/**
 * Runs `f` on cpu and on wasm at 1 and 2 threads. Asserts the shapes agree
 * and the two thread counts within `threadTol`; returns the largest error
 * of wasm (2 threads) against cpu over `f`'s outputs.
 */
export async function compareBackends(
  inputs: Values[],
  f: (...xs: tf.Tensor[]) => tf.Tensor | tf.Tensor[],
  threadTol = 1e-6,
): Promise<number> {
  const ref = await runOn("cpu", inputs, f);
  const all = setKernelThreads(2);
  assert.equal(all, 2, "the tests need 2 kernel threads");
  const two = await runOn("wasm", inputs, f);
  setKernelThreads(1);
  const one = await runOn("wasm", inputs, f);
  setKernelThreads(all);
  let worst = 0;
  ref.forEach((r, i) => {
    assert.deepEqual(two[i]!.shape, r.shape);
    const t = relErr(one[i]!.v, two[i]!.v);
    assert.ok(t <= threadTol, `output ${i}: 1 vs 2 threads differ by ${t}`);
    worst = Math.max(worst, relErr(r.v, two[i]!.v));
  });
  return worst;
}
