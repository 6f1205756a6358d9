/**
 * `src/cli/serve.ts` in a subprocess, stopped with SIGTERM while requests
 * are in flight: the listener closes (new connections are refused),
 * `/readyz` answers 503 on a kept-alive connection, every request in
 * flight gets its 200, and the process exits 0; past `--drain-timeout` it
 * exits anyway with a log line. Requests are held in flight
 * deterministically by sending half of their body before the signal and
 * the rest after it.
 */

import assert from "node:assert/strict";
import { saveModel } from "../src/nn/model_io.ts";
import { pattern, png, tinyModel } from "./classify_fixtures.ts";

const SERVE = new URL("../src/cli/serve.ts", import.meta.url).pathname;
const TASK_ENV = serveTaskEnv();
const PICTURE = png(pattern(24, 24, 3, 7), 24, 24, 3);
const encoder = new TextEncoder();

/** The `--allow-env` list of the `serve` task in deno.json. */
function serveTaskEnv(): string {
  const path = new URL("../deno.json", import.meta.url);
  const task: string = JSON.parse(Deno.readTextFileSync(path)).tasks.serve;
  return /--allow-env=(\S+)/.exec(task)![1]!;
}

/** Collects a stream's text; `waitFor` resolves once a pattern shows up. */
class Output {
  text = "";
  readonly done: Promise<void>;
  constructor(stream: ReadableStream<Uint8Array<ArrayBuffer>>) {
    this.done = (async () => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        this.text += chunk;
      }
    })();
  }
  async waitFor(pattern: RegExp, ms = 60_000): Promise<RegExpExecArray> {
    const until = performance.now() + ms;
    for (;;) {
      const match = pattern.exec(this.text);
      if (match) return match;
      if (performance.now() > until) {
        throw new Error(`no ${pattern} within ${ms} ms in: ${this.text}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

async function withServer(
  args: string[],
  run: (
    port: number,
    child: Deno.ChildProcess,
    out: Output,
    err: Output,
  ) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_serve_drain_" });
  const model = tinyModel(67);
  try {
    await saveModel(model, dir);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--allow-read",
        "--allow-net=127.0.0.1",
        `--allow-env=${TASK_ENV}`,
        SERVE,
        ...["--model", dir, "--port", "0", "--backend", "cpu"],
        ...["--decode-workers", "0", ...args],
      ],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    const out = new Output(child.stdout);
    const err = new Output(child.stderr);
    try {
      const match = await out.waitFor(
        /listening on http:\/\/127\.0\.0\.1:(\d+)\//,
      );
      await run(Number(match[1]), child, out, err);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* exited already */ }
      await child.status;
      await Promise.all([out.done, err.done]);
    }
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Reads one HTTP/1.1 answer with a content-length from a raw connection. */
async function readAnswer(
  conn: Deno.Conn,
): Promise<{ status: number; body: string }> {
  const buffer = new Uint8Array(64 * 1024);
  let bytes = new Uint8Array(0);
  for (;;) {
    const text = new TextDecoder().decode(bytes);
    const end = text.indexOf("\r\n\r\n");
    const length = /content-length: *(\d+)/i.exec(text)?.[1];
    if (end !== -1 && length !== undefined) {
      const body = bytes.subarray(end + 4);
      if (body.length >= Number(length)) {
        return {
          status: Number(text.slice(9, 12)),
          body: new TextDecoder().decode(body.subarray(0, Number(length))),
        };
      }
    }
    const n = await conn.read(buffer);
    if (n === null) throw new Error(`closed before a whole answer: ${text}`);
    const joined = new Uint8Array(bytes.length + n);
    joined.set(bytes);
    joined.set(buffer.subarray(0, n), bytes.length);
    bytes = joined;
  }
}

/** A POST /classify whose header and first half of the body are sent. */
async function halfPost(
  port: number,
): Promise<{ conn: Deno.TcpConn; rest: Uint8Array }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const head =
    "POST /classify HTTP/1.1\r\nhost: x\r\ncontent-type: image/png\r\n" +
    `content-length: ${PICTURE.length}\r\n\r\n`;
  const half = PICTURE.length >> 1;
  await conn.write(encoder.encode(head));
  await conn.write(PICTURE.subarray(0, half));
  return { conn, rest: PICTURE.subarray(half) };
}

async function metric(port: number, name: string): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(" ")[1]);
}

async function until(
  what: string,
  test: () => Promise<boolean>,
): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await test()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function refused(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return false;
  } catch (error) {
    return error instanceof Deno.errors.ConnectionRefused;
  }
}

Deno.test("serve drain: SIGTERM refuses new connections, readyz 503, answers every request in flight, exits 0", async () => {
  await withServer(
    ["--drain-timeout", "20000"],
    async (port, child, out, err) => {
      // A kept-alive connection, as a load balancer's pool holds one.
      const kept = await Deno.connect({ hostname: "127.0.0.1", port });
      await kept.write(
        encoder.encode("GET /readyz HTTP/1.1\r\nhost: x\r\n\r\n"),
      );
      assert.equal((await readAnswer(kept)).status, 200);
      const posts = await Promise.all([1, 2, 3].map(() => halfPost(port)));
      try {
        await until(
          "3 requests in flight",
          async () => await metric(port, "simdnet_in_flight") === 3,
        );
        child.kill("SIGTERM");
        await until("the listener to close", () => refused(port));
        await kept.write(
          encoder.encode("GET /readyz HTTP/1.1\r\nhost: x\r\n\r\n"),
        );
        const ready = await readAnswer(kept);
        assert.equal(ready.status, 503);
        assert.deepEqual(JSON.parse(ready.body), {
          status: "not ready",
          reason: "the server is shutting down",
        });
        for (const { conn, rest } of posts) await conn.write(rest);
        for (const { conn } of posts) {
          const answer = await readAnswer(conn);
          assert.equal(answer.status, 200, answer.body);
          assert.equal(JSON.parse(answer.body).predictions.length, 3);
        }
        const status = await child.status;
        assert.equal(status.code, 0, err.text);
        await out.done;
        assert.match(out.text, /SIGTERM: draining, 3 requests in flight/);
        assert.match(out.text, /stopped/);
        assert.doesNotMatch(err.text, /drain timeout/);
      } finally {
        for (const c of [kept, ...posts.map((p) => p.conn)]) {
          try {
            c.close();
          } catch { /* closed by the server */ }
        }
      }
    },
  );
});

Deno.test("serve drain: past --drain-timeout the process exits anyway, with a log line", async () => {
  await withServer(
    ["--drain-timeout", "300"],
    async (port, child, _out, err) => {
      const { conn } = await halfPost(port); // its body never completes
      try {
        await until(
          "a request in flight",
          async () => await metric(port, "simdnet_in_flight") === 1,
        );
        const sent = performance.now();
        child.kill("SIGTERM");
        const status = await child.status;
        const ms = performance.now() - sent;
        assert.equal(status.code, 0, err.text);
        assert.ok(ms < 5000, `exited ${ms.toFixed(0)} ms after SIGTERM`);
        await err.done;
        assert.match(
          err.text,
          /drain timeout: requests still in flight after 300 ms/,
        );
      } finally {
        conn.close();
      }
    },
  );
});
