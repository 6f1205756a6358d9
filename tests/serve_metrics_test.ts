/**
 * What an orchestrator reads from the service: `/metrics` in the Prometheus
 * text format by default (checked line by line with a strict parser of the
 * format), JSON on request, and `/readyz` turning 503 while the inference
 * queue is full and back to 200 after.
 */

import assert from "node:assert/strict";
import { modelToArtifacts } from "../src/nn/model_io.ts";
import { Classifier } from "../src/serve/classifier.ts";
import { serveClassifier } from "../src/serve/server.ts";
import { LATENCY_BUCKETS } from "../src/serve/server_metrics.ts";
import { formatValue } from "../src/serve/prometheus.ts";
import { parseExposition, parseValue } from "./exposition_parser.ts";
import { heldEngine, pattern, png, tinyModel } from "./classify_fixtures.ts";

const { json, weights } = await modelToArtifacts(tinyModel(47));
const classifier = await Classifier.fromBytes(json, weights, {
  backend: "cpu",
});
const picture = png(pattern(16, 16, 3, 6), 16, 16, 3);

function postImage(url: string): Promise<Response> {
  return fetch(`${url}/classify`, {
    method: "POST",
    body: picture,
    headers: { "content-type": "image/png" },
  });
}

Deno.test("exposition parser: accepts the format's corners and refuses its faults", () => {
  const good = [
    "# a plain comment",
    "# HELP x_total Text with \\\\ and \\n escapes.",
    "# TYPE x_total counter",
    'x_total{a="q\\"uote",b="back\\\\slash",c="new\\nline"} 3 1700000000000',
    "# TYPE g gauge",
    "g NaN",
    'g{k="v"} -Inf',
    'g{k="w"} 1.5e-3',
    "# TYPE h histogram",
    'h_bucket{le="0.5"} 1',
    'h_bucket{le="+Inf"} 2',
    "h_sum 0.75",
    "h_count 2",
    "",
  ].join("\n");
  const families = parseExposition(good);
  const labels = families.get("x_total")!.samples[0]!.labels;
  assert.deepEqual(labels, { a: 'q"uote', b: "back\\slash", c: "new\nline" });
  assert.ok(Number.isNaN(families.get("g")!.samples[0]!.value));
  assert.equal(parseValue("+Inf"), Infinity);

  const bad: [string, RegExp][] = [
    ["# TYPE c counter\nc 1\n", /lacks _total/],
    ["x_total 1\n", /no TYPE before/],
    ["# TYPE g gauge\n# TYPE g gauge\ng 1\n", /second TYPE/],
    ["# TYPE g gauge\ng 1\n# HELP g late\n", /HELP after samples/],
    ["# TYPE 1g gauge\n", /bad metric name/],
    ['# TYPE g gauge\ng{a="\\t"} 1\n', /bad escape/],
    ["# TYPE g gauge\ng{a=1} 1\n", /no ="/],
    ["# TYPE g gauge\ng one\n", /not a float/],
    ["# TYPE g gauge\ng  1\n", /one space/],
    ["# TYPE g gauge\ng 1", /must end with/],
    ['# TYPE g gauge\n# TYPE k gauge\ng 1\nk 1\ng{a="b"} 2\n', /split/],
    ['# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /\+Inf/],
    [
      '# TYPE h histogram\nh_bucket{le="2"} 1\nh_bucket{le="1"} 1\n' +
      'h_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      /ascending/,
    ],
    [
      '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\n' +
      "h_sum 1\nh_count 1\n",
      /cumulative/,
    ],
    ['# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\n', /_sum/],
    [
      '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n',
      /differs/,
    ],
  ];
  for (const [text, why] of bad) {
    assert.throws(() => parseExposition(text), why, text);
  }
  assert.deepEqual(
    [Infinity, -Infinity, NaN, 0.25].map(formatValue),
    ["+Inf", "-Inf", "NaN", "0.25"],
  );
});

Deno.test("metrics: Prometheus text by default, valid line by line, JSON on request", async () => {
  const service = serveClassifier(classifier, { port: 0, decodeWorkers: 0 });
  const url = `http://127.0.0.1:${service.addr.port}`;
  try {
    for (let i = 0; i < 3; i++) await (await postImage(url)).body?.cancel();
    await (await fetch(`${url}/nowhere`)).body?.cancel();
    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    assert.equal(
      res.headers.get("content-type"),
      "text/plain; version=0.0.4; charset=utf-8",
    );
    const families = parseExposition(await res.text());
    const samples = [...families.values()].flatMap((f) => f.samples);
    const value = (name: string, labels: Record<string, string> = {}) =>
      samples.find((s) =>
        s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels)
      )?.value;
    assert.equal(value("simdnet_requests_total", { code: "200" }), 3);
    assert.equal(value("simdnet_requests_total", { code: "404" }), 1);
    assert.equal(value("simdnet_images_total"), 3);
    assert.equal(value("simdnet_ready"), 1);
    assert.equal(value("simdnet_refused_connections_total"), 0);
    // This scrape's connection at least; kept-alive ones may add to it.
    assert.ok(value("simdnet_open_connections")! >= 1);
    assert.ok(value("simdnet_resident_memory_bytes")! > 1e6);
    const latency = families.get("simdnet_classify_duration_seconds")!;
    assert.equal(latency.type, "histogram");
    const les = latency.samples.filter((s) => s.name.endsWith("_bucket"))
      .map((s) => parseValue(s.labels.le!));
    assert.deepEqual(les, [...LATENCY_BUCKETS, Infinity]);
    assert.equal(value("simdnet_classify_duration_seconds_count"), 3);
    assert.ok(value("simdnet_classify_duration_seconds_sum")! > 0);
    for (const [name, family] of families) {
      assert.ok(family.help, `${name} has no HELP`);
    }

    const asked = [
      `${url}/metrics?format=json`,
      new Request(`${url}/metrics`, {
        headers: { accept: "application/json" },
      }),
    ];
    for (const request of asked) {
      const m = await (await fetch(request)).json();
      assert.equal(m.images, 3);
      assert.equal(m.latencySeconds.count, 3);
    }
    const plain = await fetch(`${url}/metrics`, {
      headers: { accept: "text/plain, application/json;q=0.5" },
    });
    assert.match(plain.headers.get("content-type")!, /^text\/plain/);
    await plain.body?.cancel();
    const wrong = await fetch(`${url}/metrics?format=xml`);
    assert.equal(wrong.status, 400);
    assert.match((await wrong.json()).error, /prometheus or json, got xml/);
  } finally {
    await service.server.shutdown();
  }
});

Deno.test("readyz: 503 with a one-line reason while the queue is full, 200 before and after", async () => {
  // The real classifier, held at the forward pass until the test lets go.
  const { engine, busy, release } = heldEngine(classifier);
  const service = serveClassifier(engine, {
    port: 0,
    decodeWorkers: 0,
    queueLimit: 1,
    maxBatch: 1,
  });
  const url = `http://127.0.0.1:${service.addr.port}`;
  try {
    const before = await fetch(`${url}/readyz`);
    assert.equal(before.status, 200);
    assert.deepEqual(await before.json(), { status: "ready" });
    const first = postImage(url);
    await busy; // the first image is in the forward pass
    const second = postImage(url);
    for (let i = 0; i < 500 && service.queue.waiting < 1; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    const full = await fetch(`${url}/readyz`);
    assert.equal(full.status, 503);
    const text = await full.text();
    assert.equal(text.trimEnd().split("\n").length, 1, text);
    assert.deepEqual(JSON.parse(text), {
      status: "not ready",
      reason: "the inference queue is full (1 waiting)",
    });
    const prom = await (await fetch(`${url}/metrics`)).text();
    assert.match(prom, /^simdnet_ready 0$/m);
    const live = await fetch(`${url}/healthz`);
    assert.equal(live.status, 200, "liveness holds while not ready");
    await live.body?.cancel();
    release();
    for (const answer of [await first, await second]) {
      assert.equal(answer.status, 200);
      await answer.body?.cancel();
    }
    const after = await fetch(`${url}/readyz`);
    assert.equal(after.status, 200);
    await after.body?.cancel();
  } finally {
    release();
    await service.server.shutdown();
  }
});
