/// <reference lib="dom" />
/**
 * WebGPU in the browser, with the software-adapter rule: headless Chromium
 * with WebGPU on SwiftShader (a CPU adapter, the only kind this machine
 * has) loads a page that imports `dist/simdnet.js`. By default the
 * classifier must see the adapter, call it software and run WASM SIMD;
 * with `allowSoftwareGpu` it must run tfjs' WebGPU backend in the page and
 * give the unbundled classifier's probabilities. Skipped without Chromium.
 */

import assert from "node:assert/strict";
import { pattern, png } from "./classify_fixtures.ts";
import { assertSameAnswer, bundleText, unbundledReference } from "./_bundle.ts";
import { chromiumAvailable, launchChromium } from "./_chromium.ts";

const PAGE = `<!doctype html><meta charset="utf-8"><script type="module">
import { fromUrl } from "/simdnet.js";
const options = JSON.parse(new URLSearchParams(location.search).get("options"));
try {
  const classifier = await fromUrl("/model/model.json", options);
  const image = new Uint8Array(await (await fetch("/image.png")).arrayBuffer());
  const top = await classifier.classify(image, { topK: classifier.classes });
  const probs = [];
  for (const p of top) probs[p.index] = p.probability;
  document.body.dataset.result = JSON.stringify({ runtime: classifier.runtime, probs });
} catch (e) {
  document.body.dataset.result = JSON.stringify({ error: String(e && e.stack || e) });
}
</script><body></body>`;

interface PageResult {
  error?: string;
  probs: number[];
  runtime: {
    backend: string;
    reason: string;
    webgpu: { available: boolean; software?: boolean };
  };
}

Deno.test({
  name:
    "bundle in Chromium with a software WebGPU adapter: auto keeps to WASM, allowSoftwareGpu runs WebGPU in the page with the same answer",
  ignore: !chromiumAvailable("bundle WebGPU browser test"),
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const bundle = await bundleText();
  const { artifacts, image, want } = await unbundledReference(
    23,
    png(pattern(40, 36, 3, 7), 40, 36, 3),
  );
  const json = {
    ...(artifacts.json as unknown as Record<string, unknown>),
    weightsManifest: [{
      paths: ["weights.bin"],
      weights: (artifacts.json as { weightsManifest: { weights: unknown }[] })
        .weightsManifest[0]!.weights,
    }],
  };
  const files: Record<string, [BodyInit, string]> = {
    "/": [PAGE, "text/html"],
    "/simdnet.js": [bundle, "text/javascript"],
    "/model/model.json": [JSON.stringify(json), "application/json"],
    "/model/weights.bin": [
      artifacts.weights.slice() as BodyInit,
      "application/octet-stream",
    ],
    "/image.png": [image.slice() as BodyInit, "image/png"],
  };
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => {
      const file = files[new URL(request.url).pathname];
      if (!file) return new Response("not found", { status: 404 });
      return new Response(file[0], { headers: { "content-type": file[1] } });
    },
  );
  const { browser, close } = await launchChromium({ webgpu: true });
  try {
    for (const allowSoftwareGpu of [false, true]) {
      const page = await browser.newPage();
      const options = encodeURIComponent(JSON.stringify({ allowSoftwareGpu }));
      await page.goto(
        `http://127.0.0.1:${server.addr.port}/?options=${options}`,
      );
      await page.waitForFunction(() => document.body?.dataset.result, {
        timeout: 120_000,
      });
      const got = JSON.parse(
        await page.evaluate(() => document.body.dataset.result!),
      ) as PageResult;
      assert.equal(got.error, undefined, got.error ?? "");
      const { runtime } = got;
      assert.equal(runtime.webgpu.available, true, runtime.reason);
      assert.equal(runtime.webgpu.software, true, runtime.reason);
      if (allowSoftwareGpu) {
        assert.equal(runtime.backend, "webgpu", runtime.reason);
      } else {
        assert.equal(runtime.backend, "wasm", runtime.reason);
        assert.match(runtime.reason, /is software/);
      }
      // WebGPU sums in another order than WASM: 1e-5 of a probability.
      assertSameAnswer(got.probs, want, `page (${runtime.backend})`);
      await page.close();
    }
  } finally {
    await close();
    await server.shutdown();
  }
});
