/**
 * Shared by the convolution, pooling and regularizer tests: runs a
 * one-layer (or small) simdnet Sequential and the same `model.json` and
 * weights in tfjs-layers (in the one reference child, `_tfl_child.ts`
 * through `_tfl_reference.ts`, so that tfjs' gradient configs compute the
 * reference and simdnet's compute simdnet's), and compares outputs and
 * gradients on simdnet's wasm backend at 1 and 2 threads.
 */

import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import type { Layer } from "../src/nn/layer.ts";
import { modelFromArtifacts, modelToArtifacts } from "../src/nn/model_io.ts";
import type { ModelJson } from "../src/nn/model_json.ts";
import { Sequential } from "../src/nn/sequential.ts";
import { initRuntime, setKernelThreads } from "../src/runtime/init.ts";
import { createRng, type Rng } from "../src/util/random.ts";
import {
  type ChildItem,
  readReference,
  TflReference,
} from "./_tfl_reference.ts";

/** tfjs-layers' results for a case (from `_tfl_child.ts`). */
export interface ChildResult {
  y: number[];
  yShape: number[];
  /** Gradients of `sum(y * r)`: the input's, then each trainable weight's. */
  grads: number[][];
  /** Sum of tfjs-layers' regularization losses, or null without any. */
  regLoss: number | null;
  /** tfjs-layers' `countParams()`. */
  params: number;
  /** The topology tfjs-layers writes back (`model.toJSON`). */
  topology: Record<string, unknown>;
}

/** What simdnet computes for a case. */
export interface SimdnetResult {
  y: Float32Array;
  yShape: number[];
  grads: Float32Array[];
  regLoss: number | null;
}

/** A test case: a model, an input batch and the output weights `r`. */
export interface Case {
  label: string;
  json: ModelJson;
  weights: Uint8Array;
  x: Float32Array;
  xShape: number[];
  r: Float32Array;
}

/** Starts the wasm backend with 2 threads (the machine's cores). */
export async function initWasm(): Promise<void> {
  const info = await initRuntime({ backend: "wasm", threads: 2 });
  assert.equal(info.backend, "wasm");
}

/** Uniform values in [-1, 1). */
export function randomValues(rng: Rng, n: number): Float32Array {
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = 2 * rng.next() - 1;
  return v;
}

/** A whole number in [lo, hi]. */
export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + rng.int(hi - lo + 1);
}

/**
 * Builds a Sequential of `layers` on `inputShape` with random weights
 * (bias included, so a zero bias hides nothing), a random batch and `r`.
 */
export async function makeCase(
  label: string,
  layers: Layer[],
  inputShape: number[],
  batch: number,
  seed: number,
): Promise<Case> {
  const rng = createRng(seed);
  const model = new Sequential(layers, { inputShape, seed });
  for (const w of model.weights) {
    w.variable.assign(
      tf.tensor(randomValues(rng, w.variable.size), w.variable.shape),
    );
  }
  const { json, weights } = await modelToArtifacts(model);
  const xShape = [batch, ...inputShape];
  const x = randomValues(rng, xShape.reduce((a, b) => a * b, 1));
  const outSize = batch * model.outputShape.reduce((a, b) => a * b, 1);
  const r = randomValues(rng, outSize);
  model.dispose();
  return { label, json, weights, x, xShape, r };
}

/**
 * Runs the cases through tfjs-layers in the one reference child
 * (`_tfl_reference.ts`): simdnet's file as written, the case's batch, the
 * gradients of `sum(y * r)` in training mode, and what tfjs-layers writes
 * back of it.
 */
export async function tflReference(
  cases: readonly Case[],
): Promise<ChildResult[]> {
  const root = await Deno.makeTempDir({ prefix: "simdnet_convpool_" });
  const child = TflReference.start();
  try {
    const items: ChildItem[] = [];
    for (const [i, c] of cases.entries()) {
      const dir = `${root}/${i}`;
      await Deno.mkdir(dir);
      const json = structuredClone(c.json);
      json.weightsManifest[0]!.paths = ["weights.bin"];
      await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(json));
      await Deno.writeFile(`${dir}/weights.bin`, c.weights);
      await Deno.writeFile(`${dir}/x.bin`, new Uint8Array(c.x.slice().buffer));
      // The one-hot labels the child reads beside x; unused by sum(y * r).
      await Deno.writeFile(`${dir}/y.bin`, new Uint8Array(c.r.length * 4));
      await Deno.writeFile(`${dir}/r.bin`, new Uint8Array(c.r.slice().buffer));
      items.push({
        dir,
        seed: 0,
        batch: c.xShape[0]!,
        inputFrom: dir,
        lossWeights: true,
        resave: true,
      });
    }
    await child.run({ module: import.meta.url, specs: [], items });
    const out: ChildResult[] = [];
    for (const item of items) {
      const ref = await readReference(item.dir);
      const resaved = JSON.parse(
        await Deno.readTextFile(`${item.dir}/resaved/model.json`),
      ) as { modelTopology: Record<string, unknown> };
      out.push({
        y: Array.from(ref.out),
        yShape: ref.info.outputShape,
        // The input's first, then each trainable weight's.
        grads: [
          Array.from(ref.grads.get("input")!),
          ...ref.info.trainable.map((w) => Array.from(ref.grads.get(w.name)!)),
        ],
        // tfjs-layers reports no penalty as 0; simdnet's side as null.
        regLoss: ref.info.penalty ? ref.info.penalty : null,
        params: ref.info.countParams,
        topology: resaved.modelTopology,
      });
    }
    return out;
  } finally {
    await child.close();
    await Deno.remove(root, { recursive: true });
  }
}

/** A case's results in simdnet, still as tensors. */
interface SimdnetTensors {
  y: tf.Tensor;
  grads: tf.Tensor[];
  regLoss: tf.Tensor | null;
  dispose: () => void;
}

function simdnetTensors(c: Case, threads: number): SimdnetTensors {
  if (tf.getBackend() === "wasm") setKernelThreads(threads);
  const model = modelFromArtifacts(c.json, c.weights);
  const x = tf.tensor(c.x, c.xShape);
  const r = tf.tensor(c.r);
  const xv = tf.variable(x);
  const vars = [xv, ...model.trainableVariables];
  const loss = () =>
    tf.sum(
      tf.mul(tf.reshape(model.apply(xv, { training: true }), [-1]), r),
    ) as tf.Scalar;
  const { value, grads } = tf.variableGrads(loss, vars);
  const y = model.apply(x);
  const losses = model.layers
    .map((l) => l.regularizationLoss?.() ?? null)
    .filter((t): t is tf.Scalar => t !== null);
  const total = losses.length === 0 ? null : tf.addN(losses);
  return {
    y,
    grads: vars.map((v) => grads[v.name]!),
    regLoss: total,
    dispose: () => {
      tf.dispose([x, r, xv, value, y, ...Object.values(grads), ...losses]);
      if (total !== null) total.dispose();
      model.dispose();
    },
  };
}

/**
 * Runs a case in simdnet on the current backend, with `threads` kernel
 * threads when that is wasm.
 */
export function simdnetRun(c: Case, threads: number): SimdnetResult {
  const t = simdnetTensors(c, threads);
  const out = {
    y: t.y.dataSync().slice() as Float32Array,
    yShape: t.y.shape,
    grads: t.grads.map((g) => g.dataSync().slice() as Float32Array),
    regLoss: t.regLoss === null ? null : t.regLoss.dataSync()[0]!,
  };
  t.dispose();
  return out;
}

/** {@linkcode simdnetRun} for backends that only read asynchronously (webgpu). */
export async function simdnetRunAsync(c: Case): Promise<SimdnetResult> {
  const t = simdnetTensors(c, 1);
  const read = async (x: tf.Tensor) => (await x.data() as Float32Array).slice();
  const out = {
    y: await read(t.y),
    yShape: t.y.shape,
    grads: await Promise.all(t.grads.map(read)),
    regLoss: t.regLoss === null ? null : (await read(t.regLoss))[0]!,
  };
  t.dispose();
  return out;
}

/** max |a - b| / max(max |b|, 1e-3): relative to the reference's scale. */
export function relErr(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
): number {
  assert.equal(got.length, want.length, "lengths differ");
  let err = 0, scale = 1e-3;
  for (let i = 0; i < want.length; i++) {
    err = Math.max(err, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  assert.ok(!Number.isNaN(err), "NaN");
  return err / scale;
}

/**
 * Checks simdnet's output and gradients (wasm, 1 and 2 threads) against
 * the reference within `tol` relative. `inputGrad` replaces the
 * reference's input gradient where tfjs' is known to be wrong.
 */
export function assertMatches(
  c: Case,
  ref: ChildResult,
  inputGrad?: ArrayLike<number>,
  tol = 1e-4,
): SimdnetResult[] {
  const results = [1, 2].map((threads) => simdnetRun(c, threads));
  for (const [i, got] of results.entries()) {
    const at = `${c.label}, ${i + 1} thread(s)`;
    assert.deepEqual(got.yShape, ref.yShape, `${at}: output shape`);
    const ey = relErr(got.y, ref.y);
    assert.ok(ey <= tol, `${at}: output differs by ${ey}`);
    assert.equal(got.grads.length, ref.grads.length, `${at}: gradient count`);
    got.grads.forEach((g, k) => {
      const want = k === 0 && inputGrad ? inputGrad : ref.grads[k]!;
      const e = relErr(g, want);
      const what = k === 0 ? "input" : `weight ${k - 1}`;
      assert.ok(e <= tol, `${at}: gradient of ${what} differs by ${e}`);
    });
  }
  return results;
}

/** A pooling layer's geometry and input. */
export interface Pool {
  poolSize: [number, number];
  strides: [number, number];
  padding: "same" | "valid";
  inputShape: [number, number, number];
  batch: number;
}

/**
 * The average pool's input gradient from its definition: each output's
 * upstream value `r` spread evenly over the input cells of its window
 * (TensorFlow's 'same' split: the odd cell of padding after).
 */
export function avgPoolGradFormula(p: Pool, r: Float32Array): Float32Array {
  const [h, w, c] = p.inputShape;
  const [kh, kw] = p.poolSize;
  const [sh, sw] = p.strides;
  const out = (n: number, k: number, s: number) =>
    p.padding === "same" ? Math.ceil(n / s) : Math.floor((n - k) / s) + 1;
  const before = (n: number, k: number, s: number) =>
    p.padding === "same"
      ? Math.floor(Math.max((out(n, k, s) - 1) * s + k - n, 0) / 2)
      : 0;
  const oh = out(h, kh, sh), ow = out(w, kw, sw);
  const top = before(h, kh, sh), left = before(w, kw, sw);
  const dx = new Float32Array(p.batch * h * w * c);
  for (let b = 0; b < p.batch; b++) {
    for (let i = 0; i < oh; i++) {
      const r0 = Math.max(i * sh - top, 0), r1 = Math.min(i * sh - top + kh, h);
      for (let j = 0; j < ow; j++) {
        const c0 = Math.max(j * sw - left, 0);
        const c1 = Math.min(j * sw - left + kw, w);
        const n = (r1 - r0) * (c1 - c0);
        for (let ch = 0; ch < c; ch++) {
          const g = r[((b * oh + i) * ow + j) * c + ch]! / n;
          for (let y = r0; y < r1; y++) {
            for (let x = c0; x < c1; x++) {
              dx[((b * h + y) * w + x) * c + ch]! += g;
            }
          }
        }
      }
    }
  }
  return dx;
}
