/**
 * `dist/simdnet.js` (`deno task bundle`): one ES module with no imports,
 * under the 3 MiB budget, that classifies in a Deno process with no
 * permission at all. With `Worker` and `SharedArrayBuffer` deleted (an edge
 * isolate) it runs single-threaded WASM SIMD with no error and nothing on
 * stderr; with them it runs threads. Both give the unbundled classifier's
 * probabilities within 1e-5.
 */

import assert from "node:assert/strict";
import { encodeBase64 } from "../src/util/base64.ts";
import { pattern, png } from "./classify_fixtures.ts";
import {
  assertSameAnswer,
  BUNDLE,
  bundleText,
  unbundledReference,
} from "./_bundle.ts";

const BUDGET = 3 * 1024 * 1024;

Deno.test("bundle: one module, no imports, under the 3 MiB budget", async () => {
  const text = await bundleText();
  const size = new TextEncoder().encode(text).length;
  assert.ok(size < BUDGET, `dist/simdnet.js is ${size} bytes`);
  assert.doesNotMatch(text, /\bimport\s*[\w{*][^;]*?\bfrom\s*["']/);
  assert.doesNotMatch(text, /\bimport\s*\(\s*["']/);
  // tfjs' two SIMD builds are embedded, not fetched.
  assert.ok(size > 1_000_000, `only ${size} bytes: binaries missing?`);
});

interface ChildResult {
  runtime: { backend: string; threads: number; reason: string };
  probs: number[];
}

async function runBundle(
  source: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  // No --allow-* flag at all: any file, env or net access would throw.
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", "--no-config", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: {
      NO_COLOR: "1",
      PATH: "/usr/bin:/bin",
      // For Deno's WebGPU probe (Vulkan), as every test process has it.
      XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") ?? "/tmp",
    },
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
  image: Uint8Array,
  edge: boolean,
): string {
  return `
${edge ? "delete globalThis.Worker; delete globalThis.SharedArrayBuffer;" : ""}
const simdnet = await import(${JSON.stringify(BUNDLE.href)});
const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const classifier = await simdnet.fromBytes(
  ${JSON.stringify(JSON.stringify(artifacts.json))},
  bytes("${encodeBase64(artifacts.weights)}"),
  { backend: "wasm"${edge ? "" : ", threads: 2"} },
);
const top = await classifier.classify(bytes("${
    encodeBase64(image)
  }"), { topK: classifier.classes });
const probs = [];
for (const p of top) probs[p.index] = p.probability;
console.log(JSON.stringify({ runtime: classifier.runtime, probs }));
classifier.dispose();
// Idle kernel workers (web Workers cannot be unref'd) would keep it alive.
Deno.exit(0);
`;
}

Deno.test("bundle: classifies with no permission, single-threaded without Worker and SharedArrayBuffer, threaded with them; equal to the unbundled classifier", async () => {
  await bundleText();
  const { artifacts, image, want } = await unbundledReference(
    17,
    png(pattern(57, 41, 3, 5), 57, 41, 3),
  );
  for (const edge of [true, false]) {
    const run = await runBundle(script(artifacts, image, edge));
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, "", "no warning on stderr");
    const got = JSON.parse(run.stdout.trim().split("\n").pop()!) as ChildResult;
    assert.equal(got.runtime.backend, "wasm");
    if (edge) {
      assert.equal(got.runtime.threads, 1);
      assert.match(got.runtime.reason, /no Worker or SharedArrayBuffer/);
    } else {
      assert.equal(got.runtime.threads, 2, got.runtime.reason);
    }
    assertSameAnswer(got.probs, want, `bundle (edge: ${edge})`);
  }
});
