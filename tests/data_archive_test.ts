import assert from "node:assert/strict";
import { loadCifar10 } from "../src/data/cifar10.ts";
import {
  assertDataError,
  assertSameBytes,
  caught,
  concat,
  datasetFiles,
  gzip,
  listTree,
  makeArchive,
  makeDataset,
  makeTar,
  md5,
  RECORD,
  withTempDir,
} from "./_data_fixtures.ts";

const quiet = { progress: false, useEnv: false, download: false } as const;

/** Loads `archive` bytes into a fresh cache and returns the thrown error. */
async function failingArchive(
  bytes: Uint8Array,
  check: (error: unknown, archive: string, cacheDir: string) => void,
  md5sum: string | "official" = md5(bytes),
): Promise<void> {
  await withTempDir(async (dir) => {
    const archive = `${dir}/cifar-10-binary.tar.gz`;
    const cacheDir = `${dir}/cache`;
    await Deno.writeFile(archive, bytes);
    const error = await caught(() =>
      loadCifar10({
        ...quiet,
        archive,
        cacheDir,
        md5: md5sum === "official" ? undefined : md5sum,
      })
    );
    check(error, archive, cacheDir);
    // Nothing half-made may stay behind: no extracted directory, no temporary one.
    assert.deepEqual(await listTree(cacheDir), []);
  });
}

Deno.test("archive round trip: extract into the cache, then load from the cache", async () => {
  const bytes = await makeArchive();
  await withTempDir(async (dir) => {
    const archive = `${dir}/cifar-10-binary.tar.gz`;
    const cacheDir = `${dir}/cache`;
    await Deno.writeFile(archive, bytes);
    const first = await loadCifar10({
      ...quiet,
      archive,
      cacheDir,
      md5: md5(bytes),
    });
    assert.equal(first.source.kind, "archive");
    assert.equal(first.source.path, `${cacheDir}/cifar-10-batches-bin`);
    const expected = makeDataset();
    assertSameBytes(
      first.train?.images,
      concat(expected.train).images,
      "first images",
    );
    assertSameBytes(
      first.train?.labels,
      concat(expected.train).labels,
      "first labels",
    );
    assertSameBytes(first.test?.images, expected.test.images, "test images");
    // Only the batch files are kept (no readme), and no temporary directory is left.
    assert.deepEqual(await listTree(cacheDir), [
      "cifar-10-batches-bin",
      ...[...datasetFiles().keys()].map((n) => `cifar-10-batches-bin/${n}`)
        .sort(),
    ]);
    const second = await loadCifar10({ ...quiet, archive, cacheDir });
    assert.equal(second.source.kind, "cache");
    assertSameBytes(second.train?.images, first.train!.images, "cached images");
  });
});

Deno.test("an archive left in the cache directory is picked up", async () => {
  const bytes = await makeArchive(datasetFiles({ train: false }));
  await withTempDir(async (cacheDir) => {
    await Deno.writeFile(`${cacheDir}/cifar-10-binary.tar.gz`, bytes);
    const data = await loadCifar10({
      ...quiet,
      cacheDir,
      md5: md5(bytes),
      onWarning: () => {},
    });
    assert.equal(data.source.kind, "archive");
    assert.equal(data.test?.count, 4);
    assert.equal(data.train, null);
  });
});

Deno.test("the official md5 is checked by default", async () => {
  await failingArchive(await makeArchive(), (error, archive) => {
    assertDataError(
      error,
      "checksum",
      archive,
      "c32a1d4ab5d03f1284b67883e8d87530",
    );
  }, "official");
});

Deno.test("a checksum mismatch is rejected and names the archive", async () => {
  const bytes = await makeArchive();
  await failingArchive(bytes, (error, archive) => {
    assertDataError(
      error,
      "checksum",
      archive,
      md5(bytes),
      "download it again",
    );
  }, "0123456789abcdef0123456789abcdef");
});

Deno.test("a truncated gzip is reported as corrupt", async () => {
  const bytes = await makeArchive();
  await failingArchive(
    bytes.subarray(0, Math.floor(bytes.length * 0.6)),
    (error, archive) => {
      assertDataError(error, "corrupt", archive, "gzip", "truncated");
    },
  );
  // Only the 8-byte trailer missing: the data is all there but unverifiable.
  await failingArchive(bytes.subarray(0, bytes.length - 8), (error) => {
    assertDataError(error, "corrupt", "gzip");
  });
  await failingArchive(
    new TextEncoder().encode("not a gzip file at all"),
    (error) => {
      assertDataError(error, "corrupt", "gzip");
    },
  );
});

Deno.test("a truncated or garbled tar inside a good gzip is reported as corrupt", async () => {
  const files = datasetFiles();
  const tar = makeTar(
    [...files].map(([n, d]) => [`cifar-10-batches-bin/${n}`, d]),
  );
  await failingArchive(
    await gzip(tar.subarray(0, 512 + 5000)),
    (error, archive) => {
      assertDataError(error, "corrupt", archive, "tar");
    },
  );
  const garbled = new Uint8Array(tar);
  garbled.fill(0x41, 0, 512); // the first header's checksum no longer matches
  await failingArchive(await gzip(garbled), (error) => {
    assertDataError(error, "corrupt", "tar");
  });
});

Deno.test("an archive without batch files, or with bad batches, is rejected", async () => {
  const readmeOnly = await gzip(
    makeTar([["cifar-10-batches-bin/readme.html", new Uint8Array(9)]]),
  );
  await failingArchive(readmeOnly, (error, archive) => {
    assertDataError(error, "missing", archive, "binary version");
  });

  const badLabel = datasetFiles();
  const batch = new Uint8Array(badLabel.get("data_batch_2.bin")!);
  batch[RECORD] = 200;
  badLabel.set("data_batch_2.bin", batch);
  await failingArchive(await makeArchive(badLabel), (error, archive) => {
    assertDataError(error, "label", archive, "data_batch_2.bin", "label 200");
  });

  const partial = datasetFiles();
  partial.delete("data_batch_5.bin");
  await failingArchive(await makeArchive(partial), (error) => {
    assertDataError(error, "missing", "data_batch_5.bin");
  });
});

Deno.test("a missing archive names the path", async () => {
  await withTempDir(async (dir) => {
    const archive = `${dir}/nope.tar.gz`;
    const error = await caught(() =>
      loadCifar10({ ...quiet, archive, cacheDir: `${dir}/c` })
    );
    assertDataError(error, "missing", archive);
  });
});

Deno.test("leftovers of interrupted runs are swept once a day old", async () => {
  const bytes = await makeArchive();
  await withTempDir(async (dir) => {
    const cacheDir = `${dir}/cache`;
    const old = `${cacheDir}/.extract-old`;
    const oldPart = `${cacheDir}/.cifar-10-binary.tar.gz.part-old`;
    const fresh = `${cacheDir}/.extract-fresh`;
    await Deno.mkdir(old, { recursive: true });
    await Deno.writeFile(`${old}/data_batch_1.bin`, new Uint8Array(10));
    await Deno.writeFile(oldPart, new Uint8Array(10));
    await Deno.mkdir(fresh);
    const twoDaysAgo = new Date(Date.now() - 2 * 86_400_000);
    await Deno.utime(old, twoDaysAgo, twoDaysAgo);
    await Deno.utime(oldPart, twoDaysAgo, twoDaysAgo);
    await Deno.writeFile(`${dir}/a.tar.gz`, bytes);
    await loadCifar10({
      ...quiet,
      archive: `${dir}/a.tar.gz`,
      cacheDir,
      md5: md5(bytes),
    });
    const top = (await listTree(cacheDir)).filter((p) => !p.includes("/"));
    assert.deepEqual(top, [".extract-fresh", "cifar-10-batches-bin"]);
  });
});
