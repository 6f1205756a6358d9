/**
 * Seeded fuzzing of the PNG and JPEG decoders: valid files mutated (bit
 * flips, byte changes, truncation, chunk or segment duplication and
 * insertion, length-field edits; PNG CRCs recomputed half the time so the
 * mutation reaches the decoder behind them). Every case must give pixels or
 * an `ImageDecodeError`, never another exception; the total time is
 * bounded and the slowest case reported.
 */

import assert from "node:assert/strict";
import {
  decodeImage,
  decodeImageToInput,
  ImageDecodeError,
} from "../src/image/image_decode.ts";
import { crc32 } from "../src/image/png_chunks.ts";
import { Rng } from "../src/util/random.ts";
import { jpeg, pattern } from "./classify_fixtures.ts";
import { progressiveBomb } from "./_hostile_images.ts";
import { encodeRaw, randomImage } from "./_png_encoder.ts";

const CASES = 6000;
// Stop early rather than overrun on a loaded VM (each case is milliseconds).
const BUDGET_MS = 25_000;
// Small limits keep a mutated header from asking for a large, slow image.
const OPTIONS = { maxPixels: 1_000_000, maxDimension: 4096 };

function pngSeeds(rng: Rng): Uint8Array[] {
  const shapes: [number, number][] = [
    [0, 1],
    [0, 8],
    [0, 16],
    [2, 8],
    [2, 16],
    [3, 2],
    [3, 8],
    [4, 8],
    [6, 8],
    [6, 16],
  ];
  return shapes.map(([type, depth], i) =>
    encodeRaw(
      randomImage(rng, 5 + i * 3, 4 + i, depth, type),
      i % 2 === 1,
      1 + (i % 3),
    )
  );
}

function jpegSeeds(): Uint8Array[] {
  return [
    jpeg(pattern(24, 16, 3, 1), 24, 16),
    jpeg(pattern(40, 33, 3, 2), 40, 33, 60),
    progressiveBomb(48, 40, 3),
  ];
}

/** Start offsets of the chunks of a PNG (by their length fields). */
function chunkStarts(file: Uint8Array): number[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const out: number[] = [];
  for (let pos = 8; pos + 12 <= file.length; pos += 12 + view.getUint32(pos)) {
    out.push(pos);
    if (view.getUint32(pos) > file.length) break;
  }
  return out;
}

function fixCrcs(file: Uint8Array): void {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  for (const pos of chunkStarts(file)) {
    const end = pos + 8 + view.getUint32(pos);
    if (end + 4 > file.length) break;
    view.setUint32(end, crc32(file, pos + 4, end));
  }
}

function splice(a: Uint8Array, at: number, insert: Uint8Array, remove = 0) {
  const out = new Uint8Array(a.length + insert.length - remove);
  out.set(a.subarray(0, at));
  out.set(insert, at);
  out.set(a.subarray(at + remove), at + insert.length);
  return out;
}

/** One random mutation; `units` are chunk or segment start offsets. */
function mutate(rng: Rng, seed: Uint8Array, units: number[]): Uint8Array {
  let f = seed.slice();
  const at = rng.int(f.length);
  const unit = () => units[rng.int(units.length)]!;
  const unitEnd = (u: number) => units.find((v) => v > u) ?? f.length;
  switch (rng.int(7)) {
    case 0:
      for (let k = 1 + rng.int(4); k > 0; k--) {
        const i = rng.int(f.length);
        f[i] = f[i]! ^ (1 << rng.int(8));
      }
      break;
    case 1:
      f[at] = rng.int(256);
      break;
    case 2:
      f = f.slice(0, at);
      break;
    case 3: { // duplicate a chunk/segment
      const u = unit();
      f = splice(f, unitEnd(u), f.slice(u, unitEnd(u)));
      break;
    }
    case 4: { // insert random bytes at a unit boundary
      const junk = Uint8Array.from({ length: rng.int(40) }, () => rng.int(256));
      f = splice(f, unit(), junk);
      break;
    }
    case 5: { // edit a length field
      const u = unit();
      if (u + 4 <= f.length) f[u + 3 - rng.int(4)] = rng.int(256);
      break;
    }
    default: { // remove a unit
      const u = unit();
      f = splice(f, u, new Uint8Array(0), unitEnd(u) - u);
    }
  }
  return f;
}

function jpegUnits(file: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 2; i + 1 < file.length; i++) {
    if (file[i] === 0xff && file[i + 1]! > 0xc0 && file[i + 1] !== 0xff) {
      out.push(i);
    }
  }
  return out;
}

Deno.test("image fuzz: mutated PNG and JPEG files decode or throw ImageDecodeError", () => {
  const rng = new Rng(20261202);
  const pngs = pngSeeds(rng), jpegs = jpegSeeds();
  const start = performance.now();
  let slowest = { ms: 0, what: "" }, done = 0, ok = 0;
  for (; done < CASES && performance.now() - start < BUDGET_MS; done++) {
    const isPng = done % 3 !== 2;
    const seeds = isPng ? pngs : jpegs;
    const seed = seeds[rng.int(seeds.length)]!;
    const file = mutate(rng, seed, isPng ? chunkStarts(seed) : jpegUnits(seed));
    if (isPng && rng.int(2)) fixCrcs(file);
    const t = performance.now();
    try {
      if (done % 2) decodeImageToInput(file, 32, 32, OPTIONS);
      else decodeImage(file, OPTIONS);
      ok++;
    } catch (error) {
      if (!(error instanceof ImageDecodeError)) {
        const hex = Array.from(file.subarray(0, 64), (b) => b.toString(16));
        assert.fail(
          `case ${done}: ${(error as Error)?.stack ?? error}\n${hex}`,
        );
      }
      assert.ok(!error.message.includes("\n"), error.message);
    }
    const ms = performance.now() - t;
    if (ms > slowest.ms) {
      slowest = {
        ms,
        what: `case ${done} (${isPng ? "PNG" : "JPEG"}, ${file.length} bytes)`,
      };
    }
  }
  const total = performance.now() - start;
  console.log(
    `${done} cases (${ok} decoded) in ${(total / 1000).toFixed(1)} s; ` +
      `slowest ${slowest.what}: ${slowest.ms.toFixed(1)} ms`,
  );
  assert.ok(done >= 1000, `only ${done} cases in the time budget`);
});
