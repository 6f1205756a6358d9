import assert from "node:assert/strict";
import { loadCifar10 } from "../src/data/cifar10.ts";
import { CIFAR10_CLASSES_EN, CIFAR10_CLASSES_JA } from "../src/data/classes.ts";
import { DataError } from "../src/data/errors.ts";
import { defaultCacheDir } from "../src/data/layout.ts";
import {
  assertDataError as assertFixtureDataError,
  assertSameBytes,
  caught,
  concat,
  datasetFiles,
  IMAGE,
  makeDataset,
  makeFixture,
  PLANE,
  RECORD,
  toBinary,
  withTempDir,
  writeFiles,
} from "./_data_fixtures.ts";

const quiet = { progress: false, useEnv: false } as const;

// Every error of the loader must also say what to do.
function assertDataError(
  error: unknown,
  code: string,
  ...mentions: string[]
): DataError {
  const e = assertFixtureDataError(error, code, ...mentions);
  assert.ok(e.hint.length > 0, "the error needs a hint");
  return e;
}

Deno.test("loadCifar10 reads pixels (CHW planes to HWC) and labels exactly", async () => {
  await withTempDir(async (dir) => {
    await writeFiles(dir, datasetFiles());
    const warnings: string[] = [];
    const data = await loadCifar10({
      ...quiet,
      dir,
      onWarning: (m) => warnings.push(m),
    });
    const expected = makeDataset();
    const train = concat(expected.train);
    assert.equal(data.source.kind, "dir");
    assert.equal(data.train?.count, train.count);
    assertSameBytes(data.train?.labels, train.labels, "train labels");
    assertSameBytes(data.train?.images, train.images, "train images");
    assertSameBytes(data.test?.images, expected.test.images, "test images");
    assertSameBytes(data.test?.labels, expected.test.labels, "test labels");
    assert.deepEqual(data.classNames, [...CIFAR10_CLASSES_EN]);
    assert.deepEqual(warnings, []);

    // Pixel (row 0, column 5) of the first image comes from byte 5 of each plane.
    const raw = await Deno.readFile(`${dir}/data_batch_1.bin`);
    const rgb = [...data.train!.images.subarray(5 * 3, 5 * 3 + 3)];
    assert.deepEqual(rgb, [
      raw[1 + 5],
      raw[1 + PLANE + 5],
      raw[1 + 2 * PLANE + 5],
    ]);
    assert.equal(data.train!.labels[0], raw[0]);
  });
});

Deno.test("training batches only: no test set, said once", async () => {
  await withTempDir(async (dir) => {
    await writeFiles(dir, datasetFiles({ test: false }));
    const warnings: string[] = [];
    const data = await loadCifar10({
      ...quiet,
      dir,
      onWarning: (m) => warnings.push(m),
    });
    assert.equal(data.test, null);
    assert.equal(data.train?.count, 20);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /no test set.*validation split/);
  });
});

Deno.test("test_batch.bin only: enough for evaluation", async () => {
  await withTempDir(async (dir) => {
    await writeFiles(dir, datasetFiles({ train: false }));
    const warnings: string[] = [];
    const data = await loadCifar10({
      ...quiet,
      dir,
      onWarning: (m) => warnings.push(m),
    });
    assert.equal(data.train, null);
    assert.equal(data.test?.count, 4);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /no training set/);
  });
});

Deno.test("the parent of cifar-10-batches-bin works as the data directory", async () => {
  await withTempDir(async (dir) => {
    await writeFiles(`${dir}/cifar-10-batches-bin`, datasetFiles());
    const data = await loadCifar10({ ...quiet, dir });
    assert.equal(data.source.path, `${dir}/cifar-10-batches-bin`);
    assert.equal(data.test?.count, 4);
  });
});

Deno.test("limit loads only the first images of each set, across batches", async () => {
  await withTempDir(async (dir) => {
    await writeFiles(dir, datasetFiles());
    const data = await loadCifar10({ ...quiet, dir, limit: 7 });
    const all = concat(makeDataset().train);
    assert.equal(data.train?.count, 7);
    assertSameBytes(
      data.train?.labels,
      all.labels.subarray(0, 7),
      "data labels",
    );
    assertSameBytes(
      data.train?.images,
      all.images.subarray(0, 7 * IMAGE),
      "data images",
    );
    assert.equal(data.test?.count, 4);
    await assertRejectsUsage(() => loadCifar10({ ...quiet, dir, limit: 0 }));
  });
});

async function assertRejectsUsage(fn: () => Promise<unknown>): Promise<void> {
  assertDataError(await caught(fn), "usage");
}

Deno.test("class names: batches.meta.txt, Japanese, fallback", async () => {
  await withTempDir(async (dir) => {
    const custom = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n";
    await writeFiles(dir, datasetFiles({ meta: custom }));
    assert.deepEqual((await loadCifar10({ ...quiet, dir })).classNames, [
      ..."abcdefghij",
    ]);
    const ja = await loadCifar10({ ...quiet, dir, lang: "ja" });
    assert.deepEqual(ja.classNames, [...CIFAR10_CLASSES_JA]);
    assert.equal(ja.classNames[6], "カエル");

    await Deno.writeTextFile(`${dir}/batches.meta.txt`, "only\nthree\nnames\n");
    const warnings: string[] = [];
    const bad = await loadCifar10({
      ...quiet,
      dir,
      onWarning: (m) => warnings.push(m),
    });
    assert.deepEqual(bad.classNames, [...CIFAR10_CLASSES_EN]);
    assert.match(warnings.join("\n"), /batches\.meta\.txt.*ten class names/);

    await Deno.remove(`${dir}/batches.meta.txt`);
    assert.deepEqual((await loadCifar10({ ...quiet, dir })).classNames, [
      ...CIFAR10_CLASSES_EN,
    ]);
    await assertRejectsUsage(() =>
      loadCifar10({ ...quiet, dir, lang: "fr" as unknown as "en" })
    );
  });
});

Deno.test("missing directory and empty directory name the path", async () => {
  await withTempDir(async (dir) => {
    assertDataError(
      await caught(() => loadCifar10({ ...quiet, dir: `${dir}/nope` })),
      "missing",
      `${dir}/nope`,
    );
    assertDataError(
      await caught(() => loadCifar10({ ...quiet, dir })),
      "missing",
      dir,
      "cifar-10-batches-bin",
    );
  });
});

Deno.test("some but not all training batches: names the missing files", async () => {
  await withTempDir(async (dir) => {
    const files = datasetFiles();
    files.delete("data_batch_3.bin");
    files.delete("data_batch_5.bin");
    await writeFiles(dir, files);
    const error = assertDataError(
      await caught(() => loadCifar10({ ...quiet, dir })),
      "missing",
      "data_batch_3.bin",
      "data_batch_5.bin",
    );
    assert.ok(
      !error.message.includes("data_batch_4.bin, data_batch_5"),
      error.message,
    );
  });
});

Deno.test("a size that is not a multiple of 3073 names the file", async () => {
  await withTempDir(async (dir) => {
    const files = datasetFiles();
    const good = files.get("data_batch_2.bin")!;
    files.set("data_batch_2.bin", good.subarray(0, good.length - 100));
    await writeFiles(dir, files);
    assertDataError(
      await caught(() => loadCifar10({ ...quiet, dir })),
      "format",
      "data_batch_2.bin",
      "3073",
      "re-extract",
    );
    // CIFAR-100's 3074-byte records get a hint of their own.
    await Deno.writeFile(`${dir}/data_batch_2.bin`, new Uint8Array(3074 * 2));
    assertDataError(
      await caught(() => loadCifar10({ ...quiet, dir })),
      "format",
      "CIFAR-100",
    );
    await Deno.writeFile(`${dir}/data_batch_2.bin`, new Uint8Array(0));
    assertDataError(
      await caught(() => loadCifar10({ ...quiet, dir })),
      "format",
      "empty",
    );
  });
});

Deno.test("a label above 9 names the file and the record", async () => {
  await withTempDir(async (dir) => {
    const files = datasetFiles();
    const bytes = new Uint8Array(files.get("test_batch.bin")!);
    bytes[2 * RECORD] = 10;
    files.set("test_batch.bin", bytes);
    await writeFiles(dir, files);
    assertDataError(
      await caught(() => loadCifar10({ ...quiet, dir })),
      "label",
      "test_batch.bin",
      "record 2",
      "label 10",
    );
  });
});

Deno.test("env CIFAR10_DIR is used when no directory is given", async () => {
  await withTempDir(async (dir) => {
    await writeFiles(dir, datasetFiles({ train: false }));
    const before = Deno.env.get("CIFAR10_DIR");
    Deno.env.set("CIFAR10_DIR", dir);
    try {
      const data = await loadCifar10({
        progress: false,
        onWarning: () => {},
      });
      assert.equal(data.source.kind, "env");
      assert.equal(data.test?.count, 4);
      Deno.env.set("CIFAR10_DIR", `${dir}/missing`);
      assertDataError(
        await caught(() => loadCifar10({ progress: false })),
        "missing",
        "CIFAR10_DIR",
      );
    } finally {
      if (before === undefined) Deno.env.delete("CIFAR10_DIR");
      else Deno.env.set("CIFAR10_DIR", before);
    }
  });
});

Deno.test("the cache is used, and a broken cache says how to rebuild it", async () => {
  await withTempDir(async (cacheDir) => {
    await writeFiles(`${cacheDir}/cifar-10-batches-bin`, datasetFiles());
    const data = await loadCifar10({ ...quiet, cacheDir, download: false });
    assert.equal(data.source.kind, "cache");
    assert.equal(data.train?.count, 20);
    await Deno.writeFile(
      `${cacheDir}/cifar-10-batches-bin/data_batch_4.bin`,
      new Uint8Array(5),
    );
    assertDataError(
      await caught(() => loadCifar10({ ...quiet, cacheDir, download: false })),
      "format",
      "data_batch_4.bin",
      `delete ${cacheDir}/cifar-10-batches-bin`,
    );
  });
});

Deno.test("nothing found and downloads off: says where to put the archive", async () => {
  await withTempDir(async (cacheDir) => {
    assertDataError(
      await caught(() => loadCifar10({ ...quiet, cacheDir, download: false })),
      "missing",
      `${cacheDir}/cifar-10-binary.tar.gz`,
      "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    );
  });
});

Deno.test("a single generated record survives an independent encode", () => {
  // Guards the fixture itself: red of pixel 0 is at byte 1, blue of the last at the end.
  const one = makeFixture(1, 3);
  const bin = toBinary(one);
  assert.equal(bin.length, RECORD);
  assert.equal(bin[1], one.images[0]);
  assert.equal(bin[RECORD - 1], one.images[IMAGE - 1]);
});

Deno.test("the cache lives in $XDG_CACHE_HOME/simdnet, else ~/.cache/simdnet", () => {
  const saved = {
    xdg: Deno.env.get("XDG_CACHE_HOME"),
    home: Deno.env.get("HOME"),
  };
  const restore = (name: string, value: string | undefined): void => {
    if (value === undefined) Deno.env.delete(name);
    else Deno.env.set(name, value);
  };
  try {
    Deno.env.set("XDG_CACHE_HOME", "/x/cache");
    assert.equal(defaultCacheDir(), "/x/cache/simdnet");
    Deno.env.set("XDG_CACHE_HOME", "relative/is/ignored");
    Deno.env.set("HOME", "/home/u");
    assert.equal(defaultCacheDir(), "/home/u/.cache/simdnet");
    Deno.env.delete("XDG_CACHE_HOME");
    Deno.env.delete("HOME");
    assert.throws(
      defaultCacheDir,
      (e: unknown) => e instanceof DataError && e.code === "usage",
    );
  } finally {
    restore("XDG_CACHE_HOME", saved.xdg);
    restore("HOME", saved.home);
  }
});

// The OS ignores file modes for root, so this runs only for ordinary users.
const probe = await Deno.makeTempFile({ prefix: "simdnet-probe-" });
await Deno.chmod(probe, 0o000);
const rootLike = await Deno.readFile(probe).then(() => true, () => false);
await Deno.remove(probe);

Deno.test({
  name: "an unreadable batch file is a permission error that names it",
  ignore: rootLike,
  async fn() {
    await withTempDir(async (dir) => {
      await writeFiles(dir, datasetFiles());
      await Deno.chmod(`${dir}/test_batch.bin`, 0o000);
      assertDataError(
        await caught(() => loadCifar10({ ...quiet, dir })),
        "permission",
        `${dir}/test_batch.bin`,
      );
    });
  },
});
