/**
 * Small generated CIFAR-10 files for the data tests. The binary records and
 * the tar archive are written here independently of src/data, so a shared
 * mistake (say, swapped planes) cannot pass both sides unnoticed.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { DataError } from "../src/data/errors.ts";

export const PLANE = 1024;
export const IMAGE = 3072;
export const RECORD = 3073;

/** A small set: HWC images and labels, from a fixed formula. */
export interface Fixture {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  shape: [32, 32, 3];
}

/** `count` images whose pixels depend on (salt, index, position). */
export function makeFixture(count: number, salt: number): Fixture {
  const images = new Uint8Array(count * IMAGE);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = (i * 7 + salt) % 10;
    // A hash, not a pattern: gzip must not shrink the archive to nothing, so
    // that streaming and truncation tests cross many chunks.
    let h = Math.imul(salt + 1, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca6b);
    for (let k = 0; k < IMAGE; k++) {
      h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) + k;
      images[i * IMAGE + k] = (h >>> 24) & 255;
    }
  }
  return { images, labels, count, shape: [32, 32, 3] };
}

/** The official binary layout: label, then R, G and B planes of 32x32. */
export function toBinary(set: Fixture): Uint8Array {
  const out = new Uint8Array(set.count * RECORD);
  for (let i = 0; i < set.count; i++) {
    out[i * RECORD] = set.labels[i]!;
    for (let p = 0; p < PLANE; p++) {
      for (let c = 0; c < 3; c++) {
        out[i * RECORD + 1 + c * PLANE + p] = set
          .images[i * IMAGE + p * 3 + c]!;
      }
    }
  }
  return out;
}

/** Concatenates fixtures in order. */
export function concat(sets: Fixture[]): Fixture {
  const count = sets.reduce((a, s) => a + s.count, 0);
  const images = new Uint8Array(count * IMAGE);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const s of sets) {
    images.set(s.images, at * IMAGE);
    labels.set(s.labels, at);
    at += s.count;
  }
  return { images, labels, count, shape: [32, 32, 3] };
}

/** Five small training batches (2..6 records) and a test batch of 4. */
export function makeDataset(): { train: Fixture[]; test: Fixture } {
  return {
    train: [2, 3, 6, 4, 5].map((n, b) => makeFixture(n, b + 1)),
    test: makeFixture(4, 9),
  };
}

export const META_EN =
  "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n";

/** Files of a `cifar-10-batches-bin` directory, by name. */
export function datasetFiles(
  options: { train?: boolean; test?: boolean; meta?: string | null } = {},
): Map<string, Uint8Array> {
  const { train, test } = makeDataset();
  const files = new Map<string, Uint8Array>();
  if (options.train !== false) {
    train.forEach((set, b) =>
      files.set(`data_batch_${b + 1}.bin`, toBinary(set))
    );
  }
  if (options.test !== false) files.set("test_batch.bin", toBinary(test));
  const meta = options.meta === undefined ? META_EN : options.meta;
  if (meta !== null) {
    files.set("batches.meta.txt", new TextEncoder().encode(meta));
  }
  return files;
}

/** Writes `files` into `dir` (created if needed). */
export async function writeFiles(
  dir: string,
  files: Map<string, Uint8Array>,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (const [name, data] of files) {
    await Deno.writeFile(`${dir}/${name}`, data);
  }
}

function octal(value: number, length: number): string {
  return value.toString(8).padStart(length - 1, "0") + "\0";
}

/** A ustar archive of regular files (and directories for names ending in "/"). */
export function makeTar(entries: Array<[string, Uint8Array]>): Uint8Array {
  const blocks: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const [name, data] of entries) {
    const dir = name.endsWith("/");
    const header = new Uint8Array(512);
    header.set(enc.encode(name), 0);
    header.set(enc.encode(octal(dir ? 0o755 : 0o644, 8)), 100);
    header.set(enc.encode(octal(0, 8)), 108);
    header.set(enc.encode(octal(0, 8)), 116);
    header.set(enc.encode(octal(dir ? 0 : data.length, 12)), 124);
    header.set(enc.encode(octal(1_700_000_000, 12)), 136);
    header.set(enc.encode("        "), 148); // checksum is summed over spaces
    header[156] = enc.encode(dir ? "5" : "0")[0]!;
    header.set(enc.encode("ustar\x0000"), 257);
    const sum = header.reduce((a, b) => a + b, 0);
    header.set(enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
    blocks.push(header);
    if (!dir) {
      const padded = new Uint8Array(Math.ceil(data.length / 512) * 512);
      padded.set(data);
      blocks.push(padded);
    }
  }
  blocks.push(new Uint8Array(1024));
  const out = new Uint8Array(blocks.reduce((a, b) => a + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}

/** Gzips `data` with the web CompressionStream. */
export async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** An archive like the official one: `cifar-10-batches-bin/` with the files and a readme. */
export function makeArchive(
  files: Map<string, Uint8Array> = datasetFiles(),
): Promise<Uint8Array> {
  const entries: Array<[string, Uint8Array]> = [[
    "cifar-10-batches-bin/",
    new Uint8Array(),
  ]];
  entries.push([
    "cifar-10-batches-bin/readme.html",
    new TextEncoder().encode("<p>readme</p>"),
  ]);
  for (const [name, data] of files) {
    entries.push([`cifar-10-batches-bin/${name}`, data]);
  }
  return gzip(makeTar(entries));
}

export function md5(data: Uint8Array): string {
  return createHash("md5").update(data).digest("hex");
}

/** Everything under `dir`, recursively, as relative paths (sorted). */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, prefix: string): Promise<void> => {
    for await (const e of Deno.readDir(d)) {
      out.push(prefix + e.name);
      if (e.isDirectory) await walk(`${d}/${e.name}`, `${prefix}${e.name}/`);
    }
  };
  try {
    await walk(dir, "");
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out.sort();
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
export async function withTempDir(
  fn: (dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "simdnet-data-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `fn` and returns what it threw (failing when it did not throw). */
export async function caught(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error, but none was thrown");
}

/**
 * Byte-exact comparison that reports the first difference; node's deepEqual
 * would spend minutes rendering a diff of 60,000 bytes.
 */
export function assertSameBytes(
  actual: Uint8Array | undefined,
  expected: Uint8Array,
  what: string,
): void {
  if (actual === undefined) throw new Error(`${what}: missing`);
  if (actual.length !== expected.length) {
    throw new Error(
      `${what}: ${actual.length} bytes, expected ${expected.length}`,
    );
  }
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      throw new Error(
        `${what}: byte ${i} is ${actual[i]}, expected ${expected[i]}`,
      );
    }
  }
}

/**
 * Asserts `error` is a DataError with `code` whose message or hint mentions
 * each of `mentions`; returns it.
 */
export function assertDataError(
  error: unknown,
  code: string,
  ...mentions: string[]
): DataError {
  assert.ok(error instanceof DataError, `expected a DataError, got ${error}`);
  assert.equal(error.code, code, error.message);
  for (const m of mentions) {
    assert.ok(
      `${error.message} ${error.hint}`.includes(m),
      `"${error.message}" / "${error.hint}" should mention ${m}`,
    );
  }
  return error;
}
