/**
 * The service's limits against hostile clients, on 127.0.0.1 with raw TCP
 * sockets: a stalled header is closed, a stalled body gets 408, the
 * connection and in-flight caps answer 503, the buffered-bytes cap holds,
 * a client that drops mid-request makes one log line, and a multipart
 * request with more files than the queue takes is refused before any
 * decode.
 */

import assert from "node:assert/strict";
import { modelToArtifacts } from "../src/nn/model_io.ts";
import { Classifier } from "../src/serve/classifier.ts";
import { serveClassifier, type ServeOptions } from "../src/serve/server.ts";
import { noiseJpeg, pattern, png, tinyModel } from "./classify_fixtures.ts";

const { json, weights } = await modelToArtifacts(tinyModel(43));
const classifier = await Classifier.fromBytes(json, weights, {
  backend: "cpu",
});
const picture = png(pattern(24, 24, 3, 5), 24, 24, 3);

type Service = ReturnType<typeof serveClassifier>;

/** A server with its log lines and unexpected errors captured. */
async function withServer(
  options: ServeOptions,
  run: (port: number, service: Service, log: string[]) => Promise<void>,
): Promise<void> {
  const log: string[] = [];
  const errors: unknown[] = [];
  const service = serveClassifier(classifier, {
    hostname: "127.0.0.1",
    port: 0,
    decodeWorkers: 0,
    log: (line) => log.push(line),
    onError: (e) => errors.push(e),
    ...options,
  });
  try {
    await run(service.addr.port, service, log);
  } finally {
    await service.server.shutdown();
  }
  assert.deepEqual(errors, []);
}

/** A raw connection that sends `text` and keeps the socket open. */
async function send(port: number, text: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(text));
  return conn;
}

/** Reads until the server closes or `limitMs` passes. */
async function readUntilClosed(
  conn: Deno.Conn,
  limitMs: number,
): Promise<{ text: string; closed: boolean; ms: number }> {
  const started = performance.now();
  const timer = setTimeout(() => conn.close(), limitMs);
  const buffer = new Uint8Array(4096);
  let text = "";
  let closed = false;
  try {
    for (;;) {
      const n = await conn.read(buffer);
      if (n === null) {
        closed = true;
        break;
      }
      text += new TextDecoder().decode(buffer.subarray(0, n));
    }
  } catch (error) {
    // Closed by our timer (Interrupted/BadResource) or reset by the server.
    closed = error instanceof Deno.errors.ConnectionReset;
  }
  clearTimeout(timer);
  try {
    conn.close();
  } catch { /* closed above */ }
  return { text, closed, ms: performance.now() - started };
}

async function until(
  what: string,
  test: () => boolean,
  tries = 500,
): Promise<void> {
  for (let i = 0; i < tries && !test(); i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(test(), `timed out waiting for ${what}`);
}

function postImage(port: number, body: BodyInit = picture) {
  return fetch(`http://127.0.0.1:${port}/classify`, {
    method: "POST",
    body,
    headers: { "content-type": "image/png" },
  });
}

Deno.test("limits: a connection that stalls in its header is closed after the header timeout", async () => {
  await withServer({ headerTimeoutMs: 300 }, async (port, service, log) => {
    const conn = await send(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Le");
    const r = await readUntilClosed(conn, 5000);
    assert.ok(r.closed, "the server kept the connection open");
    assert.ok(r.ms >= 250 && r.ms < 3000, `closed after ${r.ms} ms`);
    assert.equal(service.front.stats.headerTimeouts, 1);
    assert.equal(log.length, 1);
    assert.match(log[0]!, /no complete request header within 300 ms/);
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    const m =
      await (await fetch(`http://127.0.0.1:${port}/metrics?format=json`))
        .json();
    assert.equal(m.limits.headerTimeouts, 1);
    assert.equal(m.limits.refusedConnections, 0);
    const prom = await (await fetch(`http://127.0.0.1:${port}/metrics`))
      .text();
    assert.match(prom, /^simdnet_header_timeouts_total 1$/m);
  });
});

Deno.test("limits: a stalled body gets 408 after the body timeout", async () => {
  await withServer({ bodyTimeoutMs: 300 }, async (port, service) => {
    const conn = await send(
      port,
      "POST /classify HTTP/1.1\r\nHost: x\r\ncontent-type: image/png\r\n" +
        "content-length: 1000\r\n\r\n0123456789",
    );
    const r = await readUntilClosed(conn, 5000);
    assert.match(r.text, /^HTTP\/1\.1 408 /);
    assert.match(r.text, /did not arrive within 300 ms \(10 bytes received\)/);
    assert.ok(r.ms < 3000, `answered after ${r.ms} ms`);
    await until(
      "the budget to be given back",
      () => service.buffered.used === 0,
    );
    assert.equal(
      (await postImage(port).then((x) => x.json())).results.length,
      1,
    );
  });
});

Deno.test("limits: past the connection cap a client gets 503 and the server goes on", async () => {
  await withServer({ maxConnections: 3 }, async (port, service, log) => {
    const idle = await Promise.all([0, 1, 2].map(() => send(port, "")));
    await until("three open connections", () => service.front.open === 3);
    const extra = await send(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    const r = await readUntilClosed(extra, 5000);
    assert.match(r.text, /^HTTP\/1\.1 503 /);
    assert.match(r.text, /too many open connections/);
    assert.equal(service.front.stats.refused, 1);
    assert.equal(log.filter((l) => /^refused /.test(l)).length, 1);
    for (const c of idle) c.close();
    await until("the connections to close", () => service.front.open === 0);
    assert.equal((await postImage(port)).status, 200);
  });
});

Deno.test("limits: past the in-flight cap POST /classify gets 503", async () => {
  await withServer({ maxInFlight: 1 }, async (port, service) => {
    const slow = await send(
      port,
      "POST /classify HTTP/1.1\r\nHost: x\r\ncontent-type: image/png\r\n" +
        "content-length: 1000\r\n\r\n0123",
    );
    await until("one request in flight", () => service.inFlight() === 1);
    const refused = await postImage(port);
    assert.equal(refused.status, 503);
    assert.match((await refused.json()).error, /1 requests are in flight/);
    slow.close();
    await until("no request in flight", () => service.inFlight() === 0);
    assert.equal((await postImage(port)).status, 200);
  });
});

Deno.test("limits: the bytes buffered across requests stay under the cap", async () => {
  const options = { maxBufferedBytes: 10_000, maxBodyBytes: 8_000 };
  await withServer(options, async (port, service) => {
    // A declared length is taken from the budget before the body arrives.
    const holder = await send(
      port,
      "POST /classify HTTP/1.1\r\nHost: x\r\ncontent-type: image/png\r\n" +
        "content-length: 6000\r\n\r\n" + "x".repeat(100),
    );
    await until("6000 bytes held", () => service.buffered.used === 6000);
    const declared = await postImage(port, new Uint8Array(6000));
    assert.equal(declared.status, 503);
    assert.match((await declared.json()).error, /limit is 10000; retry/);
    // Without a declared length the budget is counted while reading.
    const chunks = [new Uint8Array(3000), new Uint8Array(3000)];
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        const next = chunks.shift();
        if (next) c.enqueue(next);
        else c.close();
      },
    });
    const chunked = await postImage(port, stream);
    assert.equal(chunked.status, 503);
    await chunked.body?.cancel();
    assert.ok(service.buffered.used <= 10_000);
    holder.close();
    await until("the budget to be empty", () => service.buffered.used === 0);
    assert.equal((await postImage(port)).status, 200);
  });
});

Deno.test("limits: a client that drops mid-request makes one log line and no stack", async () => {
  const printed: string[] = [];
  const { error, warn } = console;
  console.error = (...a: unknown[]) => printed.push(a.join(" "));
  console.warn = (...a: unknown[]) => printed.push(a.join(" "));
  try {
    await withServer({}, async (port, service, log) => {
      const conn = await send(
        port,
        "POST /classify HTTP/1.1\r\nHost: x\r\ncontent-type: image/png\r\n" +
          "content-length: 5000\r\n\r\n" + "y".repeat(700),
      );
      await until("the request to start", () => service.inFlight() === 1);
      conn.close();
      await until("a log line", () => log.length > 0);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(log.length, 1, log.join("\n"));
      assert.match(log[0]!, /^dropped POST \/classify: .*after 700 body bytes/);
      assert.doesNotMatch(log[0]!, /\n|\bat /);
      assert.equal(service.buffered.used, 0);
      assert.equal((await postImage(port)).status, 200);
      const m =
        await (await fetch(`http://127.0.0.1:${port}/metrics?format=json`))
          .json();
      assert.equal(m.limits.droppedClients, 1);
      assert.equal(m.limits.inFlight, 0);
    });
  } finally {
    console.error = error;
    console.warn = warn;
  }
  assert.deepEqual(printed, []);
});

Deno.test("limits: a form with more files than the queue takes gets 503 before any decode", async () => {
  await withServer({ queueLimit: 2, maxFiles: 8 }, async (port, service) => {
    const form = new FormData();
    for (let i = 0; i < 5; i++) {
      form.append(
        "image",
        new Blob([picture], { type: "image/png" }),
        `${i}.png`,
      );
    }
    const full = await fetch(`http://127.0.0.1:${port}/classify`, {
      method: "POST",
      body: form,
    });
    assert.equal(full.status, 503);
    assert.match((await full.json()).error, /queue is full/);
    assert.equal(service.decoder.stats.decodes, 0);
    assert.equal(service.queue.reserved, 0);
    assert.equal(service.buffered.used, 0);

    const many = new FormData();
    for (let i = 0; i < 9; i++) {
      many.append("f", new Blob([picture]), `${i}.png`);
    }
    const tooMany = await fetch(`http://127.0.0.1:${port}/classify`, {
      method: "POST",
      body: many,
    });
    assert.equal(tooMany.status, 413);
    assert.match((await tooMany.json()).error, /9 files; the limit is 8/);
    assert.equal(service.decoder.stats.decodes, 0);

    const two = new FormData();
    for (let i = 0; i < 2; i++) {
      two.append("f", new Blob([picture]), `${i}.png`);
    }
    const ok = await fetch(`http://127.0.0.1:${port}/classify`, {
      method: "POST",
      body: two,
    });
    assert.equal(ok.status, 200);
    assert.equal((await ok.json()).results.length, 2);
    assert.equal(service.decoder.stats.decodes, 2);
  });
});

Deno.test("limits: a client that leaves while its image decodes makes one log line", async () => {
  const photo = noiseJpeg(1000); // about half a second to decode
  await withServer({ decodeWorkers: 1 }, async (port, service, log) => {
    // Under `deno test` the worker type-checks as it loads: give it time.
    await until(
      "the worker to load",
      () => service.decoder.readyWorkers === 1,
      3000,
    );
    const conn = await send(
      port,
      "POST /classify HTTP/1.1\r\nHost: x\r\ncontent-type: image/jpeg\r\n" +
        `content-length: ${photo.length}\r\n\r\n`,
    );
    let at = 0;
    while (at < photo.length) at += await conn.write(photo.subarray(at));
    await until(
      "the decode to start",
      () => service.decoder.stats.decodes === 1,
    );
    conn.close();
    await until("a log line", () => log.length > 0);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(log.length, 1, log.join("\n"));
    assert.match(
      log[0]!,
      /^dropped POST \/classify: the client went away before its answer \(200 after \d+ ms\)$/,
    );
    const m =
      await (await fetch(`http://127.0.0.1:${port}/metrics?format=json`))
        .json();
    assert.equal(m.limits.droppedBeforeAnswer, 1);
    assert.equal((await postImage(port)).status, 200);
  });
});
