/**
 * Hardening of the archive and cache paths: a tampered archive writes
 * nothing, and a cache that cannot be created says which directory and how
 * to choose another, with the exit code of the table in src/cli/exit_codes.ts.
 */

import assert from "node:assert/strict";
import { extractArchive } from "../src/data/archive.ts";
import { loadCifar10 } from "../src/data/cifar10.ts";
import { exitCodeFor } from "../src/cli/exit_codes.ts";
import {
  assertDataError,
  caught,
  datasetFiles,
  listTree,
  makeArchive,
  md5,
  withTempDir,
} from "./_data_fixtures.ts";

const quiet = { progress: false, useEnv: false, download: false } as const;
const root = new URL("..", import.meta.url).pathname;
const isRoot = Deno.uid() === 0;

/**
 * A tampered archive: valid gzip and tar whose first record's label was
 * changed, so only the md5 (of the untampered archive, `good`) tells.
 */
async function tampered(): Promise<{ bytes: Uint8Array; good: string }> {
  const good = md5(await makeArchive());
  const files = datasetFiles();
  const batch = new Uint8Array(files.get("data_batch_1.bin")!);
  batch[0] = (batch[0]! + 1) % 10;
  files.set("data_batch_1.bin", batch);
  return { bytes: await makeArchive(files), good };
}

Deno.test("cache: a tampered archive writes nothing, not even into the extraction directory", async () => {
  const { bytes, good } = await tampered();
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/a.tar.gz`, bytes);
    await Deno.mkdir(`${dir}/dest`);
    const error = await caught(() =>
      extractArchive(`${dir}/a.tar.gz`, `${dir}/dest`, { md5: good })
    );
    assertDataError(error, "checksum", `${dir}/a.tar.gz`, good);
    // Extracting first and hashing along the way wrote every batch here.
    assert.deepEqual(await listTree(`${dir}/dest`), []);

    // A damaged one (a flipped byte) fails the md5 too, before gunzip sees it.
    const damaged = await makeArchive();
    damaged[damaged.length >> 1] = damaged[damaged.length >> 1]! ^ 0xff;
    await Deno.writeFile(`${dir}/b.tar.gz`, damaged);
    assertDataError(
      await caught(() =>
        extractArchive(`${dir}/b.tar.gz`, `${dir}/dest`, { md5: good })
      ),
      "checksum",
    );
    assert.deepEqual(await listTree(`${dir}/dest`), []);
  });
});

Deno.test("cache: a tampered archive leaves an existing cache untouched", async () => {
  const { bytes, good } = await tampered();
  await withTempDir(async (dir) => {
    const cacheDir = `${dir}/cache`;
    await Deno.mkdir(cacheDir);
    await Deno.writeTextFile(`${cacheDir}/keep.txt`, "mine");
    const past = new Date(Date.now() - 3_600_000);
    await Deno.utime(cacheDir, past, past);
    await Deno.writeFile(`${dir}/a.tar.gz`, bytes);
    const error = await caught(() =>
      loadCifar10({ ...quiet, archive: `${dir}/a.tar.gz`, cacheDir, md5: good })
    );
    assert.equal(exitCodeFor(assertDataError(error, "checksum")), 2);
    assert.deepEqual(await listTree(cacheDir), ["keep.txt"]);
    // Not even a temporary directory was made and removed: that changes the mtime.
    assert.equal(
      (await Deno.stat(cacheDir)).mtime?.getTime(),
      past.getTime(),
    );
  });
});

Deno.test("cache: a tampered archive does not even create the cache directory", async () => {
  const { bytes, good } = await tampered();
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/a.tar.gz`, bytes);
    const cacheDir = `${dir}/new/cache`;
    await caught(() =>
      loadCifar10({ ...quiet, archive: `${dir}/a.tar.gz`, cacheDir, md5: good })
    );
    assert.deepEqual(await listTree(dir), ["a.tar.gz"]);
  });
});

Deno.test("cache: a cache directory under a regular file names both and the fix (exit 2)", async () => {
  const bytes = await makeArchive();
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/a.tar.gz`, bytes);
    await Deno.writeTextFile(`${dir}/file`, "not a directory");
    const cacheDir = `${dir}/file/cache`;
    const error = await caught(() =>
      loadCifar10({
        ...quiet,
        archive: `${dir}/a.tar.gz`,
        cacheDir,
        md5: md5(bytes),
      })
    );
    const e = assertDataError(
      error,
      "format",
      cacheDir,
      `${dir}/file is a file`,
      "XDG_CACHE_HOME",
      "--cache DIR",
    );
    assert.equal(exitCodeFor(e), 2);
    assert.doesNotMatch(`${e.message} ${e.hint}`, /\n/);
  });
});

Deno.test({
  name:
    "cache: a cache directory without write permission names it and the fix (exit 4)",
  // Root writes through any mode bits; the subprocess test below covers root.
  ignore: isRoot,
  fn: async () => {
    const bytes = await makeArchive();
    await withTempDir(async (dir) => {
      await Deno.writeFile(`${dir}/a.tar.gz`, bytes);
      await Deno.mkdir(`${dir}/ro`);
      await Deno.chmod(`${dir}/ro`, 0o555);
      try {
        const cacheDir = `${dir}/ro/cache`;
        const error = await caught(() =>
          loadCifar10({
            ...quiet,
            archive: `${dir}/a.tar.gz`,
            cacheDir,
            md5: md5(bytes),
          })
        );
        const e = assertDataError(
          error,
          "permission",
          cacheDir,
          "XDG_CACHE_HOME",
        );
        assert.equal(exitCodeFor(e), 4);
      } finally {
        await Deno.chmod(`${dir}/ro`, 0o755);
      }
    });
  },
});

Deno.test({
  name:
    "cache: a cache where the file system refuses directories (/proc, as root) exits 4 with one line",
  ignore: !isRoot,
  fn: async () => {
    const bytes = await makeArchive();
    await withTempDir(async (dir) => {
      await Deno.writeFile(`${dir}/a.tar.gz`, bytes);
      const cacheDir = "/proc/simdnet-test-cache";
      // -A: with any narrower grant Deno refuses /proc before the OS does.
      const out = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "-A",
          "src/cli/data.ts",
          "--archive",
          `${dir}/a.tar.gz`,
          "--md5",
          md5(bytes),
          "--cache",
          cacheDir,
        ],
        cwd: root,
        env: { CIFAR10_DIR: "", NO_COLOR: "1" },
        stdin: "null",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 4, stderr);
      const lines = stderr.trimEnd().split("\n");
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0]!, /^error: cannot write the cache directory /);
      assert.ok(lines[0]!.includes(cacheDir), stderr);
      assert.ok(lines[0]!.includes("XDG_CACHE_HOME"), stderr);
    });
  },
});
