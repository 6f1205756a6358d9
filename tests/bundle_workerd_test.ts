/**
 * `dist/simdnet.js` in Cloudflare's own Workers runtime (workerd, from npm
 * `@cloudflare/workerd-linux-64`; `.ci/run` installs it and sets `WORKERD`):
 * an isolate that forbids `new Function` and compiling WebAssembly from
 * bytes, with no Worker and no SharedArrayBuffer. A worker imports the
 * bundle and its `.wasm` files as the platform's modules, hands them to
 * `usePrecompiledWasm`, and classifies a PNG posted to it: the
 * probabilities equal the unbundled classifier's within 1e-5, with either
 * kernel file. A worker that forgets the modules runs on and says why.
 */

import assert from "node:assert/strict";
import { pattern, png } from "./classify_fixtures.ts";
import {
  assertSameAnswer,
  BUNDLE,
  bundleText,
  unbundledReference,
} from "./_bundle.ts";

const WORKERD = Deno.env.get("WORKERD") ?? "";

// A worker's source; `kernels` names the kernel file, or null for none.
function workerSource(kernels: string | null): string {
  const setup = kernels === null ? "" : `
import tfjsSimd from "./tfjs-backend-wasm-simd.wasm";
import kernels from "./${kernels}";
usePrecompiledWasm({ tfjsSimd, kernels, relaxedSimd: ${
    kernels.includes("relaxed")
  } });`;
  return `import { fromBytes, usePrecompiledWasm } from "./simdnet.js";
import modelJson from "./model.json";
import weights from "./weights.bin";
${setup}
let classifier;
export default {
  async fetch(request) {
    classifier ??= await fromBytes(modelJson, new Uint8Array(weights));
    const image = new Uint8Array(await request.arrayBuffer());
    const top = await classifier.classify(image, { topK: classifier.classes });
    const probs = [];
    for (const p of top) probs[p.index] = p.probability;
    return Response.json({ probs, runtime: classifier.runtime });
  },
};
`;
}

const VARIANTS = [
  "simdnet-kernels-relaxed-simd.wasm",
  "simdnet-kernels-simd.wasm",
  null,
] as const;

function config(ports: number[]): string {
  const services = VARIANTS.map((_, i) => `(name = "w${i}", worker = .w${i})`);
  const sockets = ports.map((port, i) =>
    `(name = "s${i}", address = "127.0.0.1:${port}", http = (), service = "w${i}")`
  );
  const workers = VARIANTS.map((kernels, i) => {
    const wasm = kernels === null ? [] : [
      "tfjs-backend-wasm-simd.wasm",
      kernels,
    ].map((f) => `(name = "${f}", wasm = embed "${f}")`);
    const modules = [
      `(name = "worker.js", esModule = embed "worker${i}.js")`,
      `(name = "simdnet.js", esModule = embed "simdnet.js")`,
      ...wasm,
      `(name = "model.json", text = embed "model.json")`,
      `(name = "weights.bin", data = embed "weights.bin")`,
    ];
    return `const w${i} :Workerd.Worker = (
  modules = [ ${modules.join(",\n    ")} ],
  compatibilityDate = "2026-11-01",
);`;
  });
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ ${services.join(", ")} ],
  sockets = [ ${sockets.join(",\n    ")} ],
);
${workers.join("\n")}
`;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

interface WorkerAnswer {
  probs: number[];
  runtime: { backend: string; threads: number; reason: string };
}

async function post(port: number, body: Uint8Array): Promise<WorkerAnswer> {
  // workerd listens a moment after it starts: retry refused connections.
  for (let attempt = 0;; attempt++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, {
        method: "POST",
        body: body as BodyInit,
      });
      const text = await res.text();
      assert.equal(res.status, 200, text);
      return JSON.parse(text) as WorkerAnswer;
    } catch (error) {
      if (!(error instanceof TypeError) || attempt >= 100) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

Deno.test({
  name:
    "bundle in workerd (Cloudflare Workers): precompiled modules, no new Function, no threads; equal to the unbundled classifier",
  ignore: WORKERD === "",
}, async () => {
  await bundleText();
  const { artifacts, image, want } = await unbundledReference(
    17,
    png(pattern(57, 41, 3, 5), 57, 41, 3),
  );

  const dir = await Deno.makeTempDir({ prefix: "simdnet-workerd-" });
  const ports = VARIANTS.map(freePort);
  const dist = new URL("./", BUNDLE);
  for (
    const f of [
      "simdnet.js",
      "tfjs-backend-wasm-simd.wasm",
      "simdnet-kernels-relaxed-simd.wasm",
      "simdnet-kernels-simd.wasm",
    ]
  ) {
    await Deno.copyFile(new URL(f, dist), `${dir}/${f}`);
  }
  await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(artifacts.json));
  await Deno.writeFile(`${dir}/weights.bin`, artifacts.weights);
  for (const [i, kernels] of VARIANTS.entries()) {
    await Deno.writeTextFile(`${dir}/worker${i}.js`, workerSource(kernels));
  }
  await Deno.writeTextFile(`${dir}/config.capnp`, config(ports));
  const child = new Deno.Command(WORKERD, {
    args: ["serve", "config.capnp"],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const log = child.output();
  try {
    for (const [i, kernels] of VARIANTS.entries()) {
      const got = await post(ports[i]!, image);
      if (kernels === null) {
        // Forgotten modules: tfjs' cpu backend, and the reason names the fix.
        assert.equal(got.runtime.backend, "cpu");
        assert.match(got.runtime.reason, /usePrecompiledWasm/);
        assert.match(got.runtime.reason, /no WebAssembly from bytes/);
      } else {
        assert.equal(got.runtime.backend, "wasm", got.runtime.reason);
        assert.equal(got.runtime.threads, 1);
      }
      assertSameAnswer(got.probs, want, `workerd (${kernels})`);
    }
  } finally {
    child.kill("SIGTERM");
    const out = await log;
    await Deno.remove(dir, { recursive: true });
    // Nothing but workerd's own start-up lines on its stderr.
    const stderr = new TextDecoder().decode(out.stderr);
    assert.doesNotMatch(stderr, /error|abort/i, stderr);
  }
});
