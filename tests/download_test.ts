/**
 * `downloadFile` on its own, for what tests/data_download_test.ts (HTTP
 * errors, a dropped connection, a wrong md5, a refused connection, through
 * `loadCifar10`) does not reach: a server that stalls mid-body (only the
 * idle timeout ends it), the progress callbacks, a bad URL and a
 * destination folder that does not exist. A failure leaves no file behind,
 * not even the temporary part.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DataError } from "../src/data/errors.ts";
import { downloadFile, type DownloadOptions } from "../src/data/download.ts";
import { Rng } from "../src/util/random.ts";
import { listTree } from "./_data_fixtures.ts";

const BODY = (() => {
  const bytes = new Uint8Array(200_000);
  const rng = new Rng(11);
  for (let i = 0; i < bytes.length; i++) bytes[i] = rng.int(256);
  return bytes;
})();
const MD5 = createHash("md5").update(BODY).digest("hex");
const HINT = "put the file there by hand";

/** A body that sends `bytes` in 16 KiB chunks, then `end()`s. */
function chunked(
  bytes: Uint8Array,
  end: (c: ReadableStreamDefaultController<Uint8Array>) => void,
): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return end(c);
      c.enqueue(bytes.slice(at, at + 16_384));
      at += 16_384;
    },
  });
}

function handler(req: Request): Response {
  const path = new URL(req.url).pathname;
  const length = { "content-length": `${BODY.length}` };
  switch (path) {
    case "/ok":
      return new Response(chunked(BODY, (c) => c.close()), { headers: length });
    case "/stall":
      // Half the body, then nothing: only the idle timeout ends it.
      return new Response(
        chunked(BODY.subarray(0, BODY.length / 2), () => {}),
        { headers: length },
      );
    default:
      return new Response("?", { status: 500 });
  }
}

Deno.test({
  name: "downloadFile: a stall, progress, a bad URL or folder; no file left",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const abort = new AbortController();
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      signal: abort.signal,
      onListen: () => {},
    }, handler);
    const base = `http://127.0.0.1:${server.addr.port}`;
    const dir = await Deno.makeTempDir({ prefix: "simdnet_download_" });
    const options = (extra: Partial<DownloadOptions> = {}) => ({
      md5: MD5,
      manualHint: HINT,
      idleTimeoutMs: 500,
      ...extra,
    });
    const fails = async (
      url: string,
      code: string,
      pattern: RegExp,
      extra: Partial<DownloadOptions> = {},
    ) => {
      const error = await downloadFile(url, `${dir}/file.bin`, options(extra))
        .then(() => null, (e: unknown) => e);
      assert.ok(error instanceof DataError, `${url}: ${error}`);
      assert.equal(error.code, code, `${url}: ${error.message}`);
      assert.match(error.message, pattern, url);
      assert.ok(error.message.includes(url), error.message);
      assert.ok(error.hint.includes(HINT), error.hint);
      assert.deepEqual(await listTree(dir), [], `${url} left files behind`);
    };
    try {
      await t.step("a good download lands with its progress", async () => {
        let announced: number | undefined;
        let counted = 0;
        await downloadFile(
          `${base}/ok`,
          `${dir}/file.bin`,
          options({
            onStart: (total) => (announced = total),
            onBytes: (n) => (counted += n),
          }),
        );
        assert.deepEqual(await Deno.readFile(`${dir}/file.bin`), BODY);
        assert.equal(announced, BODY.length);
        assert.equal(counted, BODY.length);
        assert.deepEqual(await listTree(dir), ["file.bin"]);
        await Deno.remove(`${dir}/file.bin`);
      });
      await t.step(
        "a stalled connection",
        () => fails(`${base}/stall`, "network", /no data for 0\.5 s/),
      );
      await t.step("an invalid URL is a usage error", async () => {
        const error = await downloadFile("not a url", `${dir}/f`, options())
          .then(() => null, (e: unknown) => e);
        assert.ok(error instanceof DataError);
        assert.equal(error.code, "usage");
      });
      await t.step(
        "a missing destination folder is a write error",
        async () => {
          const error = await downloadFile(
            `${base}/ok`,
            `${dir}/no/such/dir/file.bin`,
            options(),
          ).then(() => null, (e: unknown) => e);
          assert.ok(error instanceof DataError, `${error}`);
          assert.match(error.message, /no\/such\/dir/);
        },
      );
    } finally {
      abort.abort();
      await server.finished;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
