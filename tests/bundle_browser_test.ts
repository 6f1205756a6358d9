/// <reference lib="dom" />
/**
 * The service's page classifies in the browser tab: in headless Chromium
 * (Debian's `chromium` driven by puppeteer-core) the "run in this tab"
 * switch imports `/simdnet.js` and `/model/model.json` from the server and
 * classifies the chosen image without uploading it. Served with the page's
 * COOP/COEP headers the tab is cross-origin isolated and the bundle runs
 * threads; with those headers stripped it runs one thread. Both equal the
 * server's answer, test-time augmentation included. Headless Chromium has
 * no hardware GPU adapter, so the WebGPU rule must pick wasm. Skipped when
 * /usr/bin/chromium is absent.
 */

import assert from "node:assert/strict";
import { chromiumAvailable, launchChromium } from "./_chromium.ts";
import { modelToArtifacts } from "../src/nn/model_io.ts";
import { cifarCnn } from "../src/nn/cifar_cnn.ts";
import { initRuntime } from "../src/runtime/init.ts";
import { Classifier, type Prediction } from "../src/serve/classifier.ts";
import { createClassifyHandler } from "../src/serve/server.ts";
import { ISOLATION_HEADERS } from "../src/serve/tab_assets.ts";
import { pattern, png } from "./classify_fixtures.ts";
import { bundleText } from "./_bundle.ts";

const installed = chromiumAvailable("bundle_browser_test");

interface TabRun {
  isolated: boolean;
  status: string;
  runtime: {
    backend: string;
    threads: number;
    reason: string;
    webgpu: { available: boolean; software?: boolean };
  };
  predictions: Prediction[];
  uploads: number;
}

Deno.test({
  name:
    "serve page: run in this tab classifies with the bundle, isolated (threads) and not (one thread), equal to the server",
  ignore: !installed,
  async fn() {
    const bundle = new TextEncoder().encode(await bundleText());
    await initRuntime({ backend: "wasm", threads: 1 });
    const { json, weights } = await modelToArtifacts(cifarCnn({ seed: 23 }));
    // The tab must average the same test-time views as the server.
    const classifier = await Classifier.fromBytes(json, weights, {
      tta: { flip: true, translate: true },
    });
    const service = createClassifyHandler(classifier, {
      bundle,
      decodeWorkers: 0,
    });
    let uploads = 0;
    const serve = (isolated: boolean) =>
      Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen: () => {} },
        async (request) => {
          if (new URL(request.url).pathname === "/classify") uploads++;
          const response = await service.handler(request);
          if (isolated) return response;
          const headers = new Headers(response.headers);
          for (const name of Object.keys(ISOLATION_HEADERS)) {
            headers.delete(name);
          }
          return new Response(response.body, {
            status: response.status,
            headers,
          });
        },
      );
    const servers = [serve(true), serve(false)];
    const dir = await Deno.makeTempDir({ prefix: "simdnet_bundle_browser_" });
    const { browser, close } = await launchChromium();
    try {
      const image = png(pattern(45, 38, 3, 11), 45, 38, 3);
      const path = `${dir}/picture.png`;
      await Deno.writeFile(path, image);
      const port = servers[0]!.addr.port;
      const answer = await fetch(`http://127.0.0.1:${port}/classify?topK=3`, {
        method: "POST",
        headers: { "content-type": "image/png" },
        body: image.slice(),
      });
      const want = (await answer.json()).predictions as Prediction[];
      uploads = 0;
      for (const [i, server] of servers.entries()) {
        const page = await browser.newPage();
        const problems: string[] = [];
        page.on("pageerror", (e) => problems.push(`page error: ${e}`));
        page.on("console", (m) => {
          if (m.type() === "error" || m.type() === "warn") {
            problems.push(`console: ${m.text()}`);
          }
        });
        await page.goto(`http://127.0.0.1:${server.addr.port}/`, {
          waitUntil: "load",
        });
        await page.click("#in-tab");
        const input = await page.$("input#file");
        await input!.uploadFile(path);
        await page.waitForFunction(
          () => ["done", "error"].includes(document.body.dataset.state ?? ""),
          { timeout: 120_000 },
        );
        const run: TabRun = await page.evaluate(() => ({
          isolated: globalThis.crossOriginIsolated,
          state: document.body.dataset.state,
          status: document.getElementById("status")!.textContent,
          runtime: JSON.parse(document.body.dataset.runtime ?? "null"),
          predictions: JSON.parse(document.body.dataset.predictions ?? "[]"),
          uploads: 0,
        }));
        run.uploads = uploads;
        // Chromium's own note when it has no GPU adapter is no problem.
        assert.deepEqual(
          problems.filter((p) => !/No available adapters/.test(p)),
          [],
          JSON.stringify(run),
        );
        assert.equal(run.isolated, i === 0);
        assert.equal(run.uploads, 0, "the image was uploaded");
        assert.equal(run.runtime.backend, "wasm", run.runtime.reason);
        // No hardware adapter here: a software one must not be taken.
        if (run.runtime.webgpu.available) {
          assert.equal(run.runtime.webgpu.software, true);
        }
        if (run.isolated) {
          assert.ok(run.runtime.threads > 1, run.runtime.reason);
        } else {
          assert.equal(run.runtime.threads, 1);
          assert.match(run.runtime.reason, /no Worker or SharedArrayBuffer/);
        }
        assert.equal(
          run.status,
          `Classified in this tab: wasm, ${run.runtime.threads} thread(s)`,
        );
        assert.deepEqual(
          run.predictions.map((p) => p.label),
          want.map((p) => p.label),
        );
        run.predictions.forEach((p, k) =>
          assert.ok(
            Math.abs(p.probability - want[k]!.probability) < 1e-5,
            `${p.label}: tab ${p.probability}, server ${want[k]!.probability}`,
          )
        );
        await page.close();
      }
    } finally {
      await close();
      for (const server of servers) await server.shutdown();
      service.close();
      classifier.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
