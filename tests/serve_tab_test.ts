/**
 * The files the page's "run in this tab" switch needs, through the
 * service's handler (no network): with the bundle's bytes the page offers
 * the switch, allows the bundle's script under its CSP and is cross-origin
 * isolated, `/simdnet.js` answers those bytes, and `/model/model.json` with
 * its weight file rebuild a classifier whose answers and labels equal the
 * server's. Without the bundle none of it is served and the CSP stays
 * closed.
 */

import assert from "node:assert/strict";
import { modelToArtifacts, WEIGHTS_FILE } from "../src/nn/model_io.ts";
import { Classifier } from "../src/serve/classifier.ts";
import { createClassifyHandler } from "../src/serve/server.ts";
import { labelledModel, maxDiff, pattern, png } from "./classify_fixtures.ts";

const ORIGIN = "http://127.0.0.1";

async function get(
  handler: (r: Request) => Promise<Response>,
  path: string,
  method = "GET",
): Promise<Response> {
  return await handler(new Request(ORIGIN + path, { method }));
}

Deno.test("serve tab: with the bundle, the page, the bundle and the model are served cross-origin isolated; the model classifies as the server", async () => {
  const { json, weights } = await modelToArtifacts(labelledModel(4, 61));
  const labels = ["north", "east", "south", "west"];
  const classifier = await Classifier.fromBytes(json, weights, {
    backend: "cpu",
    labels,
  });
  const bundle = crypto.getRandomValues(new Uint8Array(1000));
  const service = createClassifyHandler(classifier, {
    bundle,
    decodeWorkers: 0,
  });
  try {
    const page = await get(service.handler, "/");
    const html = await page.text();
    assert.match(html, /id="in-tab"/);
    assert.equal(page.headers.get("cross-origin-opener-policy"), "same-origin");
    assert.equal(
      page.headers.get("cross-origin-embedder-policy"),
      "require-corp",
    );
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.match(
      csp,
      /script-src 'nonce-\w+' 'self' 'unsafe-eval' 'wasm-unsafe-eval'/,
    );
    assert.match(csp, /worker-src blob:/);

    const js = await get(service.handler, "/simdnet.js");
    assert.equal(js.status, 200);
    assert.equal(js.headers.get("content-type"), "text/javascript");
    assert.equal(
      js.headers.get("cross-origin-resource-policy"),
      "same-origin",
    );
    assert.deepEqual(new Uint8Array(await js.arrayBuffer()), bundle);
    assert.equal(
      (await get(service.handler, "/simdnet.js", "POST")).status,
      405,
    );

    const model = await get(service.handler, "/model/model.json");
    assert.equal(model.status, 200);
    const served = await model.json();
    assert.deepEqual(served.weightsManifest[0].paths, [WEIGHTS_FILE]);
    const shard = await get(service.handler, `/model/${WEIGHTS_FILE}`);
    const copy = await Classifier.fromBytes(
      served,
      new Uint8Array(await shard.arrayBuffer()),
      { backend: "cpu" },
    );
    try {
      // The labels given to the server travel with the model.
      assert.deepEqual(copy.labels, labels);
      const image = png(pattern(30, 22, 3, 4), 30, 22, 3);
      const a = await classifier.predictPixels(classifier.preprocess(image), 1);
      const b = await copy.predictPixels(copy.preprocess(image), 1);
      assert.equal(a.length, 4);
      assert.ok(maxDiff(a, b) < 1e-6, `${a} vs ${b}`);
    } finally {
      copy.dispose();
    }
  } finally {
    service.close();
    classifier.dispose();
  }
});

Deno.test("serve tab: without the bundle there is no switch, no bundle or model route, and no eval in the CSP", async () => {
  const { json, weights } = await modelToArtifacts(labelledModel(3, 62));
  const classifier = await Classifier.fromBytes(json, weights, {
    backend: "cpu",
  });
  const service = createClassifyHandler(classifier, { decodeWorkers: 0 });
  try {
    const page = await get(service.handler, "/");
    assert.doesNotMatch(await page.text(), /id="in-tab"/);
    const csp = page.headers.get("content-security-policy") ?? "";
    assert.doesNotMatch(csp, /unsafe-eval|worker-src/);
    assert.match(csp, /script-src 'nonce-\w+';/);
    for (const path of ["/simdnet.js", "/model/model.json"]) {
      const res = await get(service.handler, path);
      assert.equal(res.status, 404, path);
      await res.body?.cancel();
    }
  } finally {
    service.close();
    classifier.dispose();
  }
});
