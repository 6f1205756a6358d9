/**
 * The classification service on 127.0.0.1 (a real HTTP server on a free
 * port, `cpu` backend): answers 200, 400, 404, 405, 413, 415 and 503, the
 * page, `/healthz` and `/metrics`; and the batch queue under it.
 */

import assert from "node:assert/strict";
import { modelToArtifacts } from "../src/nn/model_io.ts";
import { Classifier } from "../src/serve/classifier.ts";
import { serveClassifier } from "../src/serve/server.ts";
import { BatchQueue, QueueFullError } from "../src/serve/work_queue.ts";
import {
  heldEngine,
  jpeg,
  maxDiff,
  pattern,
  png,
  tinyModel,
} from "./classify_fixtures.ts";

const { json, weights } = await modelToArtifacts(tinyModel(41));
const classifier = await Classifier.fromBytes(json, weights, {
  backend: "cpu",
});

async function withServer(
  options: Parameters<typeof serveClassifier>[1],
  run: (
    url: string,
    service: ReturnType<typeof serveClassifier>,
  ) => Promise<void>,
  engine: Parameters<typeof serveClassifier>[0] = classifier,
): Promise<void> {
  const service = serveClassifier(engine, {
    hostname: "127.0.0.1",
    port: 0,
    ...options,
  });
  try {
    await run(`http://127.0.0.1:${service.addr.port}`, service);
  } finally {
    await service.server.shutdown();
  }
}

async function post(
  url: string,
  body: BodyInit,
  type?: string,
): Promise<
  { status: number; body: Record<string, unknown>; headers: Headers }
> {
  const res = await fetch(url, {
    method: "POST",
    body,
    headers: type === undefined ? {} : { "content-type": type },
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

type Answer = {
  index: number;
  probability: number;
  label: string;
  labelJa: string;
};

Deno.test("serve: 200 for PNG, JPEG, untyped bytes and multipart forms, equal to the classifier's answer", async () => {
  const picture = png(pattern(40, 30, 3, 1), 40, 30, 3);
  const photo = jpeg(pattern(64, 64, 3, 2), 64, 64);
  const want = await classifier.classify(picture, { topK: 3 });
  await withServer({}, async (url) => {
    for (const type of ["image/png", "application/octet-stream", undefined]) {
      const r = await post(`${url}/classify`, picture, type);
      assert.equal(r.status, 200, String(type));
      assert.equal(
        r.headers.get("content-type"),
        "application/json; charset=utf-8",
      );
      const got = r.body.predictions as Answer[];
      assert.deepEqual(got.map((p) => p.index), want.map((p) => p.index));
      assert.ok(
        maxDiff(got.map((p) => p.probability), want.map((p) => p.probability)) <
          1e-6,
      );
      assert.deepEqual(got.map((p) => p.labelJa), want.map((p) => p.labelJa));
    }
    const j = await post(`${url}/classify?topK=5`, photo, "image/jpeg");
    assert.equal(j.status, 200);
    assert.equal((j.body.predictions as Answer[]).length, 5);

    const form = new FormData();
    form.append("note", "text fields are ignored");
    form.append("image", new Blob([picture], { type: "image/png" }), "a.png");
    form.append("image", new Blob([photo], { type: "image/jpeg" }), "b.jpg");
    const m = await post(`${url}/classify`, form);
    assert.equal(m.status, 200);
    const results = m.body.results as { name: string; predictions: Answer[] }[];
    assert.deepEqual(results.map((r) => r.name), ["a.png", "b.jpg"]);
    assert.deepEqual(
      results[0]!.predictions.map((p) => p.index),
      want.map((p) => p.index),
    );
  });
});

Deno.test("serve: 400, 404, 405, 413 and 415 say what is wrong", async () => {
  await withServer({ maxBodyBytes: 4096 }, async (url) => {
    const bad = await post(
      `${url}/classify`,
      "hello, not an image",
      "image/png",
    );
    assert.equal(bad.status, 400);
    assert.match(String(bad.body.error), /neither a PNG nor a JPEG/);
    const empty = await post(`${url}/classify`, new Uint8Array(0), "image/png");
    assert.equal(empty.status, 400);
    assert.match(String(empty.body.error), /empty/);
    const form = new FormData();
    form.append("note", "no file");
    const noFile = await post(`${url}/classify`, form);
    assert.equal(noFile.status, 400);
    assert.match(String(noFile.body.error), /no file/);
    const topK = await post(
      `${url}/classify?topK=zero`,
      png(pattern(8, 8, 3, 1), 8, 8, 3),
      "image/png",
    );
    assert.equal(topK.status, 400);

    const big = await post(
      `${url}/classify`,
      new Uint8Array(4097),
      "image/png",
    );
    assert.equal(big.status, 413);
    assert.match(String(big.body.error), /larger than the limit of 4096 bytes/);
    // Without a length header the limit holds while reading.
    const chunks = [new Uint8Array(3000), new Uint8Array(3000)];
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        const next = chunks.shift();
        if (next) c.enqueue(next);
        else c.close();
      },
    });
    const streamed = await post(`${url}/classify`, stream, "image/png");
    assert.equal(streamed.status, 413);

    const text = await post(
      `${url}/classify`,
      "a=1",
      "application/x-www-form-urlencoded",
    );
    assert.equal(text.status, 415);
    assert.match(
      String(text.body.error),
      /not accepted: send image\/png, image\/jpeg/,
    );

    const missing = await fetch(`${url}/nowhere`);
    assert.equal(missing.status, 404);
    await missing.body?.cancel();
    const wrong = await fetch(`${url}/classify`);
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.get("allow"), "POST");
    await wrong.body?.cancel();
  });
});

Deno.test("serve: 503 when the inference queue is full, then the queued work completes", async () => {
  // The real classifier, held at the forward pass until the test lets go.
  const { engine, busy, release } = heldEngine(classifier);
  const picture = png(pattern(32, 32, 3, 3), 32, 32, 3);
  await withServer({ queueLimit: 1, maxBatch: 1 }, async (url, service) => {
    const first = post(`${url}/classify`, picture, "image/png");
    await busy; // the first image is in the forward pass
    const second = post(`${url}/classify`, picture, "image/png");
    for (let i = 0; i < 500 && service.queue.waiting < 1; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(service.queue.waiting, 1);
    const third = await post(`${url}/classify`, picture, "image/png");
    assert.equal(third.status, 503);
    assert.equal(third.headers.get("retry-after"), "1");
    assert.match(String(third.body.error), /queue is full/);
    release();
    assert.equal((await first).status, 200);
    assert.equal((await second).status, 200);
  }, engine);
});

Deno.test("serve: the page, /healthz and /metrics", async () => {
  await withServer({ lang: "ja" }, async (url) => {
    const page = await fetch(`${url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type")!, /^text\/html/);
    const csp = page.headers.get("content-security-policy")!;
    assert.match(csp, /default-src 'none'/);
    const html = await page.text();
    assert.match(html, /<html lang="ja">/);
    assert.match(html, /<input id="file" type="file"/);
    const nonce = /script-src 'nonce-([0-9a-f]+)'/.exec(csp)![1];
    assert.ok(html.includes(`<script nonce="${nonce}">`));

    const health = await (await fetch(`${url}/healthz`)).json();
    assert.deepEqual(health, {
      status: "ok",
      backend: "cpu",
      inputShape: [32, 32, 3],
      classes: 10,
      tta: "none",
    });
    const picture = png(pattern(16, 16, 3, 4), 16, 16, 3);
    for (let i = 0; i < 3; i++) {
      await post(`${url}/classify`, picture, "image/png");
    }
    await post(`${url}/classify`, "junk", "text/plain");
    const m = await (await fetch(`${url}/metrics?format=json`)).json();
    assert.equal(m.images, 3);
    assert.equal(m.byStatus["200"], 5); // page, healthz and three images
    assert.equal(m.byStatus["415"], 1);
    assert.equal(m.errors, 1);
    assert.equal(m.requests, 6);
    assert.equal(m.latencyMs.count, 4);
    assert.ok(m.latencyMs.p50 > 0 && m.latencyMs.p50 <= m.latencyMs.p99);
    assert.ok(m.latencyMs.p99 <= m.latencyMs.max);
    assert.ok(m.rssBytes > 0);
    // The default body limit is 5 MB.
    const limit = 5 * 1024 * 1024;
    const big = await post(
      `${url}/classify`,
      new Uint8Array(limit + 1),
      "image/png",
    );
    assert.equal(big.status, 413);
    assert.match(String(big.body.error), new RegExp(`limit of ${limit} bytes`));
    const prom = await (await fetch(`${url}/metrics?format=prometheus`)).text();
    assert.match(prom, /^simdnet_requests_total\{code="415"\} 1$/m);
    assert.match(prom, /^simdnet_requests_total\{code="413"\} 1$/m);
    assert.match(prom, /^simdnet_images_total 3$/m);
  });
});

Deno.test("serve: the batch queue joins waiting work, passes errors on and refuses beyond its limit", async () => {
  const sizes: number[] = [];
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  const queue = new BatchQueue<number, number>({
    maxBatch: 3,
    limit: 4,
    run: async (items) => {
      sizes.push(items.length);
      started();
      await gate;
      if (items.includes(-1)) throw new Error("bad item");
      return items.map((x) => x * 2);
    },
  });
  const first = queue.submit(1);
  await running; // the first batch starts alone
  const rest = [2, 3, 4, 5].map((x) => queue.submit(x));
  assert.equal(queue.waiting, 4);
  await assert.rejects(queue.submit(6), QueueFullError);
  release();
  assert.deepEqual(await Promise.all([first, ...rest]), [2, 4, 6, 8, 10]);
  assert.deepEqual(sizes, [1, 3, 1]);
  gate = Promise.resolve();
  // Work submitted in the same turn shares one batch.
  const failing = [queue.submit(7), queue.submit(-1)];
  for (const p of failing) await assert.rejects(p, /bad item/);
  assert.deepEqual(sizes, [1, 3, 1, 2]);
  assert.equal(await queue.submit(8), 16);
  assert.deepEqual(queue.stats, { batches: 5, items: 8 });
});
