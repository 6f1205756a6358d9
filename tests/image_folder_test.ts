/**
 * `loadImageFolder` on folders built on the fly: listing, class order,
 * decoding to uint8, skipped files, errors, the stratified split and the
 * cache.
 */

import assert from "node:assert/strict";
import { DataError } from "../src/data/errors.ts";
import { inputToByte } from "../src/data/image_file.ts";
import { checkSameClasses, loadImageFolder } from "../src/data/image_folder.ts";
import { cachePath } from "../src/data/image_folder_cache.ts";
import {
  compareCodePoints,
  detectDataKind,
} from "../src/data/image_folder_scan.ts";
import { stratifiedSplit } from "../src/data/stratified_split.ts";
import { decodeImageToInput } from "../src/image/image_decode.ts";
import {
  jpegFile,
  mixedFolder,
  pngFile,
  withTemp,
  writeTree,
} from "./_image_folder_fixtures.ts";

async function rejects(
  fn: () => Promise<unknown>,
  code: string,
  ...mentions: (string | RegExp)[]
): Promise<DataError> {
  const error = await fn().then(() => null, (e) => e);
  assert.ok(error instanceof DataError, `expected a DataError, got ${error}`);
  assert.equal(error.code, code, error.message);
  assert.ok(!error.message.includes("\n"), "one line");
  for (const m of mentions) {
    if (typeof m === "string") {
      assert.ok(error.message.includes(m), error.message);
    } else assert.match(error.message, m);
  }
  return error;
}

Deno.test("image folder: classes in code-point order, NFC, hidden and other files skipped", async () => {
  await withTemp(async (dir) => {
    // By code point: "Z" < "a" < "É" < "Ε" < "猫" < "Ａ" (U+FF21) < "😀"
    // (U+1F600); JS's UTF-16 sort would put "😀" (D83D DE00) before "Ａ".
    // Folders are written in NFD, as macOS stores them.
    const names = ["a", "Z", "\u00c9", "Ελληνικά", "猫", "😀", "\uff21"];
    const files = mixedFolder(names.map((n) => n.normalize("NFD")), 2);
    await writeTree(dir, {
      ...files,
      ".hidden_class/0.png": pngFile(4, 4, 3, 0),
      "a/.secret.png": pngFile(4, 4, 3, 0),
      "a/notes.txt": new TextEncoder().encode("not an image"),
      "a/nested/deeper.PNG": pngFile(8, 8, 1, 1),
      "README.md": new TextEncoder().encode("top-level files are ignored"),
    });
    const data = await loadImageFolder({ dir });
    assert.deepEqual(data.classNames, [
      "Z",
      "a",
      "\u00c9",
      "Ελληνικά",
      "猫",
      "\uff21",
      "😀",
    ]);
    assert.ok(data.classNames.every((n) => n === n.normalize("NFC")));
    assert.equal(data.train.count, 15);
    assert.deepEqual(data.train.shape, [32, 32, 3]);
    assert.equal(data.train.images.length, 15 * 32 * 32 * 3);
    // Labels follow the class order; "a" has its nested image as well.
    assert.deepEqual(
      [...data.train.labels],
      [0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6],
    );
    assert.deepEqual(data.skipped, []);
    assert.equal(data.source.kind, "folder");
    assert.equal(data.source.cached, false);
    assert.equal(data.validation, undefined);
  });
});

Deno.test("image folder: a symlink loop inside a class is listed once", async () => {
  await withTemp(async (dir) => {
    await writeTree(dir, mixedFolder(["a", "b"], 2));
    // `ln`: Deno.symlink needs unscoped --allow-write, the test task's is /tmp.
    const ln = (target: string, path: string) =>
      new Deno.Command("ln", { args: ["-s", target, path] }).output();
    await ln(`${dir}/a`, `${dir}/a/loop`);
    await ln(".", `${dir}/b/self`);
    assert.ok((await Deno.lstat(`${dir}/b/self`)).isSymlink);
    const data = await loadImageFolder({ dir });
    assert.equal(data.train.count, 4);
  });
});

Deno.test("image folder: compareCodePoints orders astral characters after the BMP", () => {
  assert.ok(compareCodePoints("😀", "\uff21") > 0);
  assert.ok("😀" < "\uff21", "JS's UTF-16 order differs, hence the function");
  assert.ok(compareCodePoints("ab", "abc") < 0);
  assert.equal(compareCodePoints("猫", "猫"), 0);
});

Deno.test("image folder: uint8 pixels are the float path rounded (within 0.5/255), exact at model size", async () => {
  await withTemp(async (dir) => {
    const files = {
      "x/big_rgba.png": pngFile(97, 61, 4, 3),
      "x/small_grey.png": pngFile(7, 11, 1, 4),
      "x/same.png": pngFile(32, 32, 3, 5),
      "y/photo.jpeg": jpegFile(50, 40, 6),
    };
    await writeTree(dir, files);
    const data = await loadImageFolder({ dir });
    const order = [
      "x/big_rgba.png",
      "x/same.png",
      "x/small_grey.png",
      "y/photo.jpeg",
    ];
    const size = 32 * 32 * 3;
    order.forEach((rel, i) => {
      const floats = decodeImageToInput(
        files[rel as keyof typeof files],
        32,
        32,
      );
      const bytes = data.train.images.subarray(i * size, (i + 1) * size);
      let worst = 0;
      for (let k = 0; k < size; k++) {
        worst = Math.max(worst, Math.abs(bytes[k]! / 255 - floats[k]!));
        assert.equal(bytes[k], inputToByte(floats[k]!));
      }
      assert.ok(worst <= 0.5 / 255 + 1e-7, `${rel}: ${worst * 255}/255`);
    });
    // A 32x32 RGB PNG comes through bit for bit.
    const same = pngFile(32, 32, 3, 5);
    const { decodeImage } = await import("../src/image/image_decode.ts");
    assert.deepEqual(
      data.train.images.subarray(size, 2 * size),
      decodeImage(same).data,
    );
    assert.deepEqual(data.stats.colours, {
      "png RGBA": 1,
      "png RGB": 1,
      "png grey": 1,
      "jpeg RGB": 1,
    });
    assert.deepEqual(data.stats.smallest, { width: 7, height: 11 });
    assert.deepEqual(data.stats.largest, { width: 97, height: 61 });
    assert.equal(data.stats.sizes["50x40"], 1);
  });
});

Deno.test("image folder: imageSize sets the decoded shape", async () => {
  await withTemp(async (dir) => {
    await writeTree(dir, mixedFolder(["a", "b"], 2));
    const square = await loadImageFolder({ dir, imageSize: 8 });
    assert.deepEqual(square.train.shape, [8, 8, 3]);
    const wide = await loadImageFolder({ dir, imageSize: [4, 12] });
    assert.deepEqual(wide.train.shape, [4, 12, 3]);
    assert.equal(wide.train.images.length, 4 * 4 * 12 * 3);
    await rejects(
      () => loadImageFolder({ dir, imageSize: 0 }),
      "usage",
      "image size",
    );
  });
});

Deno.test("image folder: undecodable and oversized files are listed and skipped", async () => {
  await withTemp(async (dir) => {
    await writeTree(dir, {
      ...mixedFolder(["a", "b"], 3),
      "a/broken.png": new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2]),
      "b/text.jpg": new TextEncoder().encode("hello"),
      "b/huge.png": pngFile(300, 300, 1, 0),
    });
    const progress: [number, number][] = [];
    const data = await loadImageFolder({
      dir,
      limits: { maxPixels: 50_000 },
      onProgress: (done, total) => progress.push([done, total]),
    });
    assert.equal(data.train.count, 6);
    assert.deepEqual(data.skipped.map((s) => s.rel), [
      "a/broken.png",
      "b/huge.png",
      "b/text.jpg",
    ]);
    assert.equal(data.skipped[0]!.path, `${dir}/a/broken.png`);
    assert.match(data.skipped[1]!.reason, /pixels|limit/i);
    assert.match(data.skipped[2]!.reason, /neither a PNG nor a JPEG/);
    assert.equal(progress.length, 9);
    assert.deepEqual(progress.at(-1), [9, 9]);
    // The file-size bound skips the big file before reading it.
    const hugeSize = (await Deno.stat(`${dir}/b/huge.png`)).size;
    const bySize = await loadImageFolder({
      dir,
      limits: { maxFileBytes: hugeSize - 1 },
    });
    assert.deepEqual(bySize.skipped.map((s) => s.rel), [
      "a/broken.png",
      "b/huge.png",
      "b/text.jpg",
    ]);
    assert.match(bySize.skipped[1]!.reason, /more than the \d+ limit/);
  });
});

Deno.test("image folder: errors name the folder (one class, empty class, no usable image, not a dataset)", async () => {
  await withTemp(async (dir) => {
    await writeTree(`${dir}/one`, mixedFolder(["only"], 2));
    await rejects(
      () => loadImageFolder({ dir: `${dir}/one` }),
      "format",
      `${dir}/one`,
      "only",
      "at least two",
    );

    await writeTree(`${dir}/empty`, {
      ...mixedFolder(["a"], 2),
      "b/readme.txt": new Uint8Array(3),
    });
    await rejects(
      () => loadImageFolder({ dir: `${dir}/empty` }),
      "format",
      `${dir}/empty/b`,
      "no .png",
    );

    await writeTree(`${dir}/bad`, {
      ...mixedFolder(["a"], 2),
      "b/x.png": new Uint8Array(10),
    });
    await rejects(
      () => loadImageFolder({ dir: `${dir}/bad` }),
      "format",
      `${dir}/bad/b`,
      "no usable image",
    );

    await writeTree(`${dir}/flat`, { "x.png": pngFile(4, 4, 3, 0) });
    await rejects(
      () => detectDataKind(`${dir}/flat`, "--data"),
      "format",
      `${dir}/flat`,
      "neither",
    );
    // Missing paths and files are left to the CIFAR-10 loader's messages.
    assert.equal(
      await detectDataKind(`${dir}/flat/x.png`, "--data"),
      "cifar10",
    );
    assert.equal(await detectDataKind(`${dir}/nope`, "--data"), "cifar10");
    assert.equal(await detectDataKind(`${dir}/bad`, "--data"), "folder");
    await writeTree(`${dir}/cifar`, {
      "test_batch.bin": new Uint8Array(3073),
      "sub/x.png": new Uint8Array(1),
    });
    assert.equal(await detectDataKind(`${dir}/cifar`, "--data"), "cifar10");
  });
});

Deno.test("image folder: --val-data with other classes is an error naming the difference", () => {
  checkSameClasses(["a", "b"], ["a", "b"], "/v", "--val-data");
  assert.throws(
    () =>
      checkSameClasses(["a", "b", "c"], ["a", "c", "d"], "/v", "--val-data"),
    (e: unknown) =>
      e instanceof DataError &&
      /--val-data \/v .*missing \[b\], extra \[d\]/.test(e.message),
  );
});

Deno.test("image folder: the stratified split keeps per-class proportions, is seeded and has no overlap", () => {
  // Image i holds byte i (and i >> 8), so images identify themselves.
  const counts = [50, 20, 7, 3];
  const labels: number[] = [];
  counts.forEach((n, c) => labels.push(...new Array(n).fill(c)));
  const count = labels.length;
  const images = new Uint8Array(count * 2);
  for (let i = 0; i < count; i++) images.set([i & 255, i >> 8], 2 * i);
  const data = {
    images,
    labels: Uint8Array.from(labels),
    count,
    shape: [1, 2, 1] as const,
  };
  const ids = (s: { images: Uint8Array; count: number }) =>
    Array.from(
      { length: s.count },
      (_, i) => s.images[2 * i]! + 256 * s.images[2 * i + 1]!,
    );

  const a = stratifiedSplit(data, 0.2, 7);
  const perClass = (s: { labels: Uint8Array; count: number }) =>
    counts.map((_, c) =>
      s.labels.subarray(0, s.count).filter((l) => l === c).length
    );
  assert.deepEqual(perClass(a.validation), [10, 4, 1, 1]);
  assert.deepEqual(perClass(a.train), [40, 16, 6, 2]);
  const train = ids(a.train), val = ids(a.validation);
  assert.equal(
    new Set([...train, ...val]).size,
    count,
    "no overlap, nothing lost",
  );
  // Labels travel with their images.
  train.forEach((id, i) => assert.equal(a.train.labels[i], labels[id]));
  assert.deepEqual(
    ids(stratifiedSplit(data, 0.2, 7).validation),
    val,
    "seeded",
  );
  assert.notDeepEqual(ids(stratifiedSplit(data, 0.2, 8).validation), val);
  // Every class keeps at least one training image.
  assert.deepEqual(
    perClass(stratifiedSplit(data, 0.9, 1).train).map((n) => n > 0),
    [true, true, true, true],
  );
  assert.throws(() => stratifiedSplit(data, 1, 0), /\(0, 1\)/);
  assert.throws(() => stratifiedSplit(data, 0.001, 0), /no validation image/);
});

Deno.test("image folder: valSplit on a folder splits each class", async () => {
  await withTemp(async (dir) => {
    await writeTree(dir, mixedFolder(["a", "b", "c"], 10));
    const data = await loadImageFolder({ dir, valSplit: 0.3, seed: 3 });
    assert.equal(data.train.count, 21);
    assert.deepEqual([...data.validation!.labels], [0, 0, 0, 1, 1, 1, 2, 2, 2]);
    const again = await loadImageFolder({ dir, valSplit: 0.3, seed: 3 });
    assert.deepEqual(again.validation!.images, data.validation!.images);
  });
});

Deno.test("image folder: the cache hits, misses after a change, and ignores a damaged file", async () => {
  await withTemp(async (root) => {
    const dir = `${root}/data`, cacheDir = `${root}/cache`;
    await writeTree(dir, {
      ...mixedFolder(["a", "b"], 3),
      "b/bad.png": new Uint8Array(4),
    });
    const listing = async () => {
      const names: string[] = [];
      for await (const e of Deno.readDir(`${cacheDir}/image-folders`)) {
        names.push(e.name);
      }
      return names;
    };
    const first = await loadImageFolder({ dir, cache: true, cacheDir });
    assert.equal(first.source.cached, false);
    const [file] = await listing();
    assert.match(file!, /^[0-9a-f]{64}\.simg$/);
    const second = await loadImageFolder({ dir, cache: true, cacheDir });
    assert.equal(second.source.cached, true);
    assert.deepEqual(second.train.images, first.train.images);
    assert.deepEqual(second.train.labels, first.train.labels);
    assert.deepEqual(second.classNames, first.classNames);
    assert.deepEqual(second.skipped, first.skipped);
    assert.deepEqual(second.stats, first.stats);
    // Without cache: true, the cache is neither read nor written.
    assert.equal(
      (await loadImageFolder({ dir, cacheDir })).source.cached,
      false,
    );
    // Another image size is another key.
    assert.equal(
      (await loadImageFolder({ dir, cache: true, cacheDir, imageSize: 16 }))
        .source.cached,
      false,
    );

    // A damaged cache file is ignored and rebuilt.
    const path = cachePath(cacheDir, file!.slice(0, 64));
    const bytes = await Deno.readFile(path);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
    await Deno.writeFile(path, bytes);
    const rebuilt = await loadImageFolder({ dir, cache: true, cacheDir });
    assert.equal(rebuilt.source.cached, false);
    assert.deepEqual(rebuilt.train.images, first.train.images);
    assert.equal(
      (await loadImageFolder({ dir, cache: true, cacheDir })).source.cached,
      true,
    );
    await Deno.writeFile(path, bytes.subarray(0, 20));
    assert.equal(
      (await loadImageFolder({ dir, cache: true, cacheDir })).source.cached,
      false,
    );

    // A changed file (size and mtime) misses.
    await Deno.writeFile(`${dir}/a/0.png`, pngFile(9, 9, 3, 42));
    const changed = await loadImageFolder({ dir, cache: true, cacheDir });
    assert.equal(changed.source.cached, false);
    assert.notDeepEqual(changed.train.images, first.train.images);

    // Nothing was written next to the images.
    const inData: string[] = [];
    for await (const e of Deno.readDir(dir)) inData.push(e.name);
    assert.deepEqual(inData.sort(), ["a", "b"]);
  });
});
