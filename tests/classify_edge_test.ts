/**
 * Given bytes, `Classifier` needs no Deno permission: a subprocess started
 * with `deno run --no-prompt` and no `--allow-*` flag at all (any access
 * would throw) loads a model, the tfjs WASM binary and a PNG from base64
 * in its own source, and classifies on the WASM backend with threads.
 * Without `threads` and without env access it takes every core, with no
 * permission prompt.
 */

import assert from "node:assert/strict";
import { modelToArtifacts } from "../src/nn/model_io.ts";
import { encodeBase64 } from "../src/util/base64.ts";
import { packageWasmUrl } from "../src/runtime/wasm_backend.ts";
import { Classifier } from "../src/serve/classifier.ts";
import { pattern, png, tinyModel } from "./classify_fixtures.ts";

const CONFIG = new URL("../deno.json", import.meta.url).pathname;
const CLASSIFIER = new URL("../src/serve/classifier.ts", import.meta.url).href;

async function runWithoutPermissions(
  source: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--config", CONFIG, "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    // No SIMDNET_* or other settings leak in from the test's environment.
    clearEnv: true,
    env: { NO_COLOR: "1", PATH: "/usr/bin:/bin" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(source));
  await writer.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

function script(
  artifacts: { json: unknown; weights: Uint8Array },
  wasm: Uint8Array,
  image: Uint8Array,
  threads: number | undefined,
): string {
  return `
import { Classifier } from ${JSON.stringify(CLASSIFIER)};
const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const json = ${JSON.stringify(JSON.stringify(artifacts.json))};
const weights = bytes("${encodeBase64(artifacts.weights)}");
const wasmBinary = bytes("${encodeBase64(wasm)}");
const image = bytes("${encodeBase64(image)}");
const classifier = await Classifier.fromBytes(json, weights, {
  backend: "wasm", wasmBinary, ${
    threads === undefined ? "" : `threads: ${threads}`
  }
});
const top = await classifier.classify(image, { topK: 10 });
console.log(JSON.stringify({ runtime: classifier.runtime, top }));
// The WASM threads would keep the process alive.
Deno.exit(0);
`;
}

Deno.test("classify: bytes in, answers out, with no permission at all (WASM, 2 threads and 1)", async () => {
  const model = tinyModel(31);
  const artifacts = await modelToArtifacts(model);
  const image = png(pattern(64, 48, 3, 9), 64, 48, 3);
  const local = await Classifier.fromModel(model, { backend: "cpu" });
  const want = await local.classify(image, { topK: 10 });
  local.dispose();
  const threaded = await Deno.readFile(
    packageWasmUrl("tfjs-backend-wasm-threaded-simd.wasm"),
  );
  const single = await Deno.readFile(
    packageWasmUrl("tfjs-backend-wasm-simd.wasm"),
  );
  // The single-threaded binary without `threads`: the classifier sees it
  // has its own memory and asks for one thread. The threaded one without
  // `threads`: SIMDNET_THREADS cannot be read (no --allow-env, no prompt),
  // so every core.
  const cores = Math.max(1, navigator.hardwareConcurrency || 1);
  const cases: Array<[Uint8Array, number | undefined, number]> = [
    [threaded, 2, 2],
    [single, undefined, 1],
  ];
  if (cores > 1) cases.push([threaded, undefined, cores]);
  for (const [wasm, threads, expectThreads] of cases) {
    const run = await runWithoutPermissions(
      script(artifacts, wasm, image, threads),
    );
    assert.equal(run.code, 0, run.stderr);
    assert.doesNotMatch(run.stderr, /NotCapable|PermissionDenied|Requires/);
    const line = run.stdout.trim().split("\n").pop()!;
    const got = JSON.parse(line);
    assert.equal(got.runtime.backend, "wasm");
    assert.equal(got.runtime.threads, expectThreads);
    assert.deepEqual(
      got.top.map((p: { index: number }) => p.index),
      want.map((p) => p.index),
    );
    got.top.forEach((p: { probability: number }, i: number) =>
      assert.ok(Math.abs(p.probability - want[i]!.probability) < 1e-4)
    );
  }
});
