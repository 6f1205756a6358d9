import assert from "node:assert/strict";
import { loadCifar10 } from "../src/data/cifar10.ts";
import {
  assertDataError,
  caught,
  listTree,
  makeArchive,
  md5,
  withTempDir,
} from "./_data_fixtures.ts";

const quiet = { progress: false, useEnv: false } as const;

/** Serves `bytes` at /cifar-10-binary.tar.gz on 127.0.0.1, 404 elsewhere. */
async function withServer(
  bytes: Uint8Array,
  fn: (url: string, hits: () => number) => Promise<void>,
): Promise<void> {
  let hits = 0;
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, (req) => {
    hits++;
    if (new URL(req.url).pathname !== "/cifar-10-binary.tar.gz") {
      return new Response("not found", { status: 404 });
    }
    return new Response(bytes as Uint8Array<ArrayBuffer>, {
      headers: { "content-type": "application/gzip" },
    });
  });
  try {
    await fn(
      `http://127.0.0.1:${server.addr.port}/cifar-10-binary.tar.gz`,
      () => hits,
    );
  } finally {
    await server.shutdown();
  }
}

/**
 * A raw TCP server that announces the whole archive but sends only half of it
 * and then closes the connection, like a network that drops midway.
 */
async function withDroppingServer(
  bytes: Uint8Array,
  fn: (url: string) => Promise<void>,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serveOne = (async () => {
    const conn = await listener.accept();
    try {
      const buf = new Uint8Array(4096);
      let request = "";
      while (!request.includes("\r\n\r\n")) {
        const n = await conn.read(buf);
        if (n === null) return;
        request += new TextDecoder().decode(buf.subarray(0, n));
      }
      const head = `HTTP/1.1 200 OK\r\ncontent-length: ${bytes.length}\r\n` +
        "content-type: application/gzip\r\nconnection: close\r\n\r\n";
      await conn.write(new TextEncoder().encode(head));
      const half = bytes.subarray(0, Math.floor(bytes.length / 2));
      for (let off = 0; off < half.length;) {
        off += await conn.write(half.subarray(off));
      }
    } finally {
      conn.close();
    }
  })();
  const { port } = listener.addr as Deno.NetAddr;
  try {
    await fn(`http://127.0.0.1:${port}/cifar-10-binary.tar.gz`);
  } finally {
    await serveOne.catch(() => {});
    listener.close();
  }
}

Deno.test("download: fetched, verified, extracted and cached; archive removed", async () => {
  const bytes = await makeArchive();
  await withServer(bytes, async (url, hits) => {
    await withTempDir(async (cacheDir) => {
      const data = await loadCifar10({
        ...quiet,
        url,
        md5: md5(bytes),
        cacheDir,
      });
      assert.equal(data.source.kind, "download");
      assert.equal(data.train?.count, 20);
      assert.equal(data.test?.count, 4);
      const tree = await listTree(cacheDir);
      assert.ok(
        tree.includes("cifar-10-batches-bin/test_batch.bin"),
        tree.join(),
      );
      assert.ok(
        tree.every((p) => p.startsWith("cifar-10-batches-bin")),
        tree.join(),
      );
      // A second load comes from the cache, not the network.
      const again = await loadCifar10({
        ...quiet,
        url,
        md5: md5(bytes),
        cacheDir,
      });
      assert.equal(again.source.kind, "cache");
      assert.equal(hits(), 1);
    });
  });
});

Deno.test("download: a connection dropped midway leaves no cache behind", async () => {
  const bytes = await makeArchive();
  await withDroppingServer(bytes, async (url) => {
    await withTempDir(async (cacheDir) => {
      const error = await caught(() =>
        loadCifar10({ ...quiet, url, md5: md5(bytes), cacheDir })
      );
      assertDataError(error, "network", url, "cifar-10-binary.tar.gz");
      assert.deepEqual(await listTree(cacheDir), []);
    });
  });
});

Deno.test("download: a wrong checksum is rejected and nothing is kept", async () => {
  const bytes = await makeArchive();
  await withServer(bytes, async (url) => {
    await withTempDir(async (cacheDir) => {
      const error = await caught(() =>
        loadCifar10({
          ...quiet,
          url,
          md5: "ffffffffffffffffffffffffffffffff",
          cacheDir,
        })
      );
      assertDataError(error, "checksum", md5(bytes), url);
      assert.deepEqual(await listTree(cacheDir), []);
    });
  });
});

Deno.test("download: HTTP errors and refused connections say how to get the file by hand", async () => {
  await withServer(new Uint8Array(), async (url) => {
    await withTempDir(async (cacheDir) => {
      const missing = url.replace("cifar-10-binary", "other");
      const error = await caught(() =>
        loadCifar10({ ...quiet, url: missing, cacheDir })
      );
      assertDataError(
        error,
        "network",
        "404",
        `${cacheDir}/cifar-10-binary.tar.gz`,
      );
      assert.deepEqual(await listTree(cacheDir), []);
    });
  });
  // A port that was just closed: nothing listens there, as with no network.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  await withTempDir(async (cacheDir) => {
    const url = `http://127.0.0.1:${port}/cifar-10-binary.tar.gz`;
    const error = await caught(() => loadCifar10({ ...quiet, url, cacheDir }));
    assertDataError(
      error,
      "network",
      url,
      "by hand",
      `${cacheDir}/cifar-10-binary.tar.gz`,
    );
    assert.deepEqual(await listTree(cacheDir), []);
  });
});
