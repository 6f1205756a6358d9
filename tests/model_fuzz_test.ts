/**
 * A seeded fuzz test of the model loader: thousands of random mutations of
 * the small test model (numbers, types, deleted and duplicated keys,
 * shapes, dtypes, paths in `model.json`; truncated, extended and flipped
 * weight bytes; cut and garbled JSON text). Each case must load or fail
 * with a one-line `ModelFormatError`: never another exception, a hang, a
 * leaked tensor or memory beyond a bound.
 */

import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import {
  loadModel,
  ModelFormatError,
  modelFromArtifacts,
  WEIGHTS_FILE,
} from "../src/nn/model_io.ts";
import { tinyArtifacts } from "./_model_fixtures.ts";

await tf.setBackend("cpu");

const SEED = 20261202;
const CASES = 5000;
/**
 * Wall-clock budget: on a loaded shared VM the cases stop early (at least
 * MIN_CASES must run), so the test stays under ~30 s whatever the load.
 */
const BUDGET_MS = 20_000;
const MIN_CASES = 1000;
/** Every DISK_EVERY-th case goes through the files on disk. */
const DISK_EVERY = 10;

/** mulberry32: small, seedable, good enough to pick mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T =>
  xs[Math.floor(r() * xs.length)]!;

const NUMBERS = [
  0,
  -1,
  1,
  2,
  3,
  7,
  0.5,
  -0.5,
  1e-300,
  2 ** 31,
  2 ** 32 + 1,
  2 ** 53,
  2 ** 24,
  1e308,
  -1e308,
  65536,
  256,
  10,
  4,
];
const ODD = [null, true, false, "", "x", "float32", [], {}, [1, 2], { a: 1 }];
const DTYPES = [
  "float32",
  "float16",
  "int32",
  "uint8",
  "bool",
  "string",
  "complex64",
];
const PATHS = [
  WEIGHTS_FILE,
  "../x.bin",
  "%2e%2e/x.bin",
  "..%5cx.bin",
  "\\\\127.0.0.1:9\\x",
  "/etc/passwd",
  "file:///etc/passwd",
  "sub",
  "sub/",
  "a/b.bin",
  "",
  "%zz",
  "x?y",
  "group1-shard1of1.bin#",
  "./" + WEIGHTS_FILE,
];

/** Every container and key in a JSON tree, for picking a place to mutate. */
function places(
  root: unknown,
): [Record<string, unknown> | unknown[], string | number][] {
  const out: [Record<string, unknown> | unknown[], string | number][] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        out.push([v, i]);
        walk(x);
      });
    } else if (typeof v === "object" && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        out.push([v as Record<string, unknown>, k]);
        walk(x);
      }
    }
  };
  walk(root);
  return out;
}

function mutateValue(r: Rand, old: unknown, key: string | number): unknown {
  const choice = r();
  if (key === "shape" || (choice < 0.15 && Array.isArray(old))) {
    const n = Math.floor(r() * 6);
    return Array.from(
      { length: n },
      () => r() < 0.8 ? pick(r, NUMBERS) : pick(r, ODD),
    );
  }
  if (key === "dtype") return pick(r, DTYPES);
  if (key === "paths") {
    return Array.from(
      { length: 1 + Math.floor(r() * 3) },
      () => pick(r, PATHS),
    );
  }
  if (typeof old === "number" || choice < 0.5) return pick(r, NUMBERS);
  return pick(r, ODD);
}

/** Applies one to three JSON-level mutations in place; returns what it did. */
function mutateJson(r: Rand, json: Record<string, unknown>): string {
  const done: string[] = [];
  for (let n = 1 + Math.floor(r() * 3); n > 0; n--) {
    const all = places(json);
    if (all.length === 0) break;
    const [parent, key] = pick(r, all);
    const kind = r();
    if (kind < 0.2) {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
      done.push(`delete ${key}`);
    } else if (kind < 0.35) {
      const value = structuredClone(
        (parent as Record<string, unknown>)[key as string],
      );
      if (Array.isArray(parent)) parent.splice(key as number, 0, value);
      else parent[`${key}${Math.floor(r() * 3)}`] = value;
      done.push(`duplicate ${key}`);
    } else {
      const old = (parent as Record<string, unknown>)[key as string];
      (parent as Record<string, unknown>)[key as string] = mutateValue(
        r,
        old,
        key,
      );
      done.push(`set ${key}`);
    }
  }
  return done.join(", ");
}

function mutateBytes(r: Rand, bytes: Uint8Array): [Uint8Array, string] {
  const kind = r();
  if (kind < 0.33) {
    const at = Math.floor(r() * bytes.length);
    return [bytes.slice(0, at), `truncate to ${at}`];
  }
  if (kind < 0.66) {
    const extra = 1 + Math.floor(r() * 64);
    const out = new Uint8Array(bytes.length + extra);
    out.set(bytes);
    out.fill(0xff, bytes.length);
    return [out, `extend by ${extra}`];
  }
  const out = bytes.slice();
  for (let n = 1 + Math.floor(r() * 8); n > 0; n--) {
    out[Math.floor(r() * out.length)]! ^= 1 << Math.floor(r() * 8);
  }
  return [out, "flip bits"];
}

/** One fuzz case: `model.json` text, weight bytes and what was changed. */
function makeCase(
  r: Rand,
  base: Record<string, unknown>,
  weights: Uint8Array,
): { text: string; bytes: Uint8Array; what: string } {
  const kind = r();
  if (kind < 0.6) {
    const json = structuredClone(base);
    const what = mutateJson(r, json);
    return { text: JSON.stringify(json), bytes: weights, what };
  }
  if (kind < 0.85) {
    const [bytes, what] = mutateBytes(r, weights);
    return { text: JSON.stringify(base), bytes, what };
  }
  const text = JSON.stringify(base);
  const at = Math.floor(r() * text.length);
  const garbled = r() < 0.5
    ? text.slice(0, at)
    : text.slice(0, at) + pick(r, ["}", "]", ",", '"', "-", "9e9", "{"]) +
      text.slice(at + 1);
  return { text: garbled, bytes: weights, what: `text at ${at}` };
}

function checkOutcome(outcome: unknown, what: string): void {
  if (outcome instanceof Error) {
    assert.ok(outcome instanceof ModelFormatError, `${what}: ${outcome.stack}`);
    assert.ok(!outcome.message.includes("\n"), `${what}: ${outcome.message}`);
    assert.ok(outcome.message.length < 600, `${what}: ${outcome.message}`);
  }
}

Deno.test("model fuzz: up to 5000 seeded mutations load or fail with a one-line ModelFormatError, fast and bounded", async () => {
  const { json, weights } = await tinyArtifacts();
  const base = json as unknown as Record<string, unknown>;
  const dir = await Deno.makeTempDir({ prefix: "simdnet_model_fuzz_" });
  await Deno.mkdir(`${dir}/sub`);
  const r = rng(SEED);
  const tensors = tf.memory().numTensors;
  const rss = Deno.memoryUsage().rss;
  const start = performance.now();
  let loaded = 0, slowest = 0, peak = 0, ran = 0;
  try {
    for (let i = 0; i < CASES; i++, ran++) {
      if (performance.now() - start > BUDGET_MS) break;
      const c = makeCase(r, base, weights);
      const what = `case ${i} (${c.what})`;
      const t0 = performance.now();
      let outcome: unknown;
      try {
        const model = i % DISK_EVERY === 0
          ? await (async () => {
            await Deno.writeTextFile(`${dir}/model.json`, c.text);
            await Deno.writeFile(`${dir}/${WEIGHTS_FILE}`, c.bytes);
            return await loadModel(dir);
          })()
          : modelFromArtifacts(c.text, c.bytes);
        model.dispose();
        loaded++;
      } catch (error) {
        outcome = error;
      }
      checkOutcome(outcome, what);
      slowest = Math.max(slowest, performance.now() - t0);
      if (i % 100 === 0) peak = Math.max(peak, Deno.memoryUsage().rss - rss);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const total = performance.now() - start;
  console.log(
    `${ran} cases in ${(total / 1000).toFixed(1)} s, ${loaded} loaded, ` +
      `slowest ${slowest.toFixed(0)} ms, RSS peak +${peak >> 20} MB`,
  );
  assert.ok(ran >= MIN_CASES, `only ${ran} cases in ${BUDGET_MS} ms`);
  assert.ok(loaded > 0 && loaded < ran, `${loaded} of ${ran} loaded`);
  assert.equal(tf.memory().numTensors, tensors, "tensors leaked");
  assert.ok(total < 30_000, `took ${total.toFixed(0)} ms`);
  assert.ok(slowest < 2_000, `slowest case took ${slowest.toFixed(0)} ms`);
  assert.ok(peak < 256 * 2 ** 20, `RSS grew ${peak >> 20} MB`);
});
