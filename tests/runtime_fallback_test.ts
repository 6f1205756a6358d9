/**
 * Each step of `initRuntime`'s `auto` fallback, in a subprocess whose engine
 * is made to lack a feature before simdnet loads: all features (WASM SIMD
 * with threads); no `Worker` (one thread); no `Worker` and no
 * `SharedArrayBuffer`, as in an edge isolate (one thread, simdnet's kernels
 * on a private memory); no WebAssembly SIMD (tfjs `cpu`, and a forced
 * `wasm` refuses before loading anything). Where WASM runs, a convolution's
 * gradients must match the `cpu` backend's.
 */

import assert from "node:assert/strict";

const CONFIG = new URL("../deno.json", import.meta.url).pathname;
const INIT = new URL("../src/runtime/init.ts", import.meta.url).href;

type Mode = "full" | "noWorker" | "noThreads" | "noSimd";

// Hides engine features; runs before any simdnet module is imported.
const HIDE: Record<Mode, string> = {
  full: "",
  noWorker: "delete globalThis.Worker;",
  noThreads: "delete globalThis.Worker; delete globalThis.SharedArrayBuffer;",
  // Every SIMD probe (hasSimd's and the kernel variants') fails to validate,
  // as on an engine without SIMD; other modules still validate.
  noSimd: `
const validate = WebAssembly.validate;
WebAssembly.validate = (bytes) =>
  new Uint8Array(bytes.buffer ?? bytes).includes(0xfd) ? false : validate(bytes);`,
};

function script(mode: Mode, backend: string): string {
  return `${HIDE[mode]}
const tf = await import("@tensorflow/tfjs-core");
const { initRuntime } = await import(${JSON.stringify(INIT)});
async function convGrads() {
  const x = tf.randomUniform([2, 8, 8, 3], -1, 1, "float32", 1);
  const w = tf.randomUniform([3, 3, 3, 4], -1, 1, "float32", 2);
  const f = (a, b) => tf.sum(tf.relu(tf.conv2d(a, b, 1, "same")));
  const g = tf.grads(f)([x, w]);
  return [Array.from(await g[0].data()), Array.from(await g[1].data())];
}
let out;
try {
  const info = await initRuntime({ backend: "${backend}", gpu: null, threads: 2 });
  const got = await convGrads();
  await tf.setBackend("cpu");
  const want = await convGrads();
  let diff = 0;
  got.forEach((g, k) => g.forEach((v, i) => {
    diff = Math.max(diff, Math.abs(v - want[k][i]));
  }));
  out = { info, diff };
} catch (e) {
  out = { error: String(e), tfBackend: tf.getBackend() ?? null };
}
console.log(JSON.stringify(out));
Deno.exit(0); // WASM threads would keep the process alive
`;
}

interface Outcome {
  info?: {
    backend: string;
    reason: string;
    simd: boolean;
    threads: number;
  };
  diff?: number;
  error?: string;
  tfBackend?: string | null;
}

async function runIn(mode: Mode, backend = "auto"): Promise<Outcome> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--allow-read", "--config", CONFIG, "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: { NO_COLOR: "1", PATH: "/usr/bin:/bin" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(script(mode, backend)));
  await writer.close();
  const out = await child.output();
  const stdout = new TextDecoder().decode(out.stdout).trim();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const last = stdout.split("\n").at(-1) ?? "";
  return JSON.parse(last) as Outcome;
}

function assertWasm(o: Outcome, threads: number, reason: RegExp): void {
  assert.ok(o.info, `expected a runtime, got ${o.error}`);
  assert.equal(o.info.backend, "wasm");
  assert.equal(o.info.simd, true);
  assert.equal(o.info.threads, threads);
  assert.match(o.info.reason, reason);
  assert.ok((o.diff ?? Infinity) < 1e-4, `differs from cpu by ${o.diff}`);
}

Deno.test("fallback: with every feature, auto runs WASM SIMD with threads", async () => {
  assertWasm(await runIn("full"), 2, /WASM SIMD with 2 threads$/);
});

Deno.test("fallback: without Worker, auto runs WASM SIMD on one thread", async () => {
  assertWasm(
    await runIn("noWorker"),
    1,
    /WASM SIMD, 1 thread \(no Worker or SharedArrayBuffer here\)$/,
  );
});

Deno.test("fallback: without Worker and SharedArrayBuffer (edge isolates), WASM SIMD on one thread", async () => {
  for (const backend of ["auto", "wasm"]) {
    const o = await runIn("noThreads", backend);
    const why = backend === "auto" ? /^no WebGPU/ : /^forced by backend/;
    assertWasm(o, 1, why);
    assert.match(o.info!.reason, /1 thread \(no Worker or SharedArrayBuffer/);
  }
});

Deno.test("fallback: without WebAssembly SIMD, auto runs tfjs cpu and a forced wasm refuses", async () => {
  const auto = await runIn("noSimd");
  assert.ok(auto.info, `expected a runtime, got ${auto.error}`);
  assert.equal(auto.info.backend, "cpu");
  assert.equal(auto.info.simd, false);
  assert.match(auto.info.reason, /; no WebAssembly SIMD; tfjs cpu$/);
  assert.equal(auto.diff, 0);
  const forced = await runIn("noSimd", "wasm");
  assert.match(forced.error ?? "", /RuntimeError: .*no WebAssembly SIMD/);
  // Refused before loading tfjs' WASM: no backend was started.
  assert.equal(forced.tfBackend, null);
});
