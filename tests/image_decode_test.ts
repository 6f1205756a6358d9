/**
 * The image decoders against hostile files (each refused fast with a
 * one-line `ImageDecodeError`) and valid ones (every PNG depth, colour type
 * and interlace equal to the encoder's input; fast-png's files too), and
 * the streaming resize against the previous whole-image one.
 */

import assert from "node:assert/strict";
import { decode as fastPngDecode } from "fast-png";
import {
  decodeImage,
  decodeImageToInput,
  ImageDecodeError,
} from "../src/image/image_decode.ts";
import { pixelsToInput } from "../src/image/resize.ts";
import { Rng } from "../src/util/random.ts";
import { jpeg, maxDiff, pattern, png } from "./classify_fixtures.ts";
import {
  chunkBeforeIhdr,
  doubleIhdr,
  iccpBomb,
  idatBomb,
  ihdr,
  palette16,
  paletteOutOfRange,
  pngFile,
  progressiveBomb,
  rgba16Big,
  tallThin,
  tinyIdats,
  twoTrns,
  zeroBomb,
} from "./_hostile_images.ts";
import { encodeRaw, expected, randomImage } from "./_png_encoder.ts";
import { referencePixelsToInput } from "./_reference_resize.ts";

/** Runs `f`, expects an ImageDecodeError matching `pattern`; returns ms. */
function refused(f: () => unknown, pattern: RegExp): number {
  const t = performance.now();
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof ImageDecodeError, `not an ImageDecodeError: ${e}`);
    assert.match(e.message, pattern);
    assert.ok(!e.message.includes("\n"), "one line");
    return true;
  });
  return performance.now() - t;
}

const BOMBS: [string, () => Uint8Array, RegExp][] = [
  [
    "1x1 PNG whose IDAT inflates to 4.8 GB",
    idatBomb,
    /inflates to more than the 2 bytes/,
  ],
  ["a second IHDR after a 1x1 one (900 MP)", doubleIhdr, /two IHDR chunks/],
  [
    "a chunk before IHDR (900 MP)",
    chunkBeforeIhdr,
    /first chunk is abCd, not IHDR/,
  ],
  [
    "palette index out of range",
    paletteOutOfRange,
    /palette index 7 is out of range \(2 entries\)/,
  ],
  [
    "palette at bit depth 16",
    palette16,
    /bit depth 16 is invalid for colour type 3/,
  ],
  ["two tRNS chunks", twoTrns, /two tRNS chunks/],
  [
    "tall thin 1 x 40,000,000",
    tallThin,
    /1x40000000, wider or taller than the limit of 65535/,
  ],
  [
    "progressive JPEG of 5,000 scans",
    () => progressiveBomb(4096, 4096, 5000),
    /more than 64 scans|more than 12000000 blocks/,
  ],
];

for (const [name, make, pattern] of BOMBS) {
  Deno.test(`image decode: refused fast: ${name}`, () => {
    const file = make();
    const ms = refused(() => decodeImage(file), pattern);
    refused(() => decodeImageToInput(file, 32, 32), pattern);
    // Generous for a loaded 2-core VM; unloaded they take 0.2 to 60 ms.
    assert.ok(ms < 1000, `${name}: ${ms.toFixed(0)} ms`);
    console.log(
      `${name}: ${file.length} bytes, refused in ${ms.toFixed(1)} ms`,
    );
  });
}

Deno.test("image decode: an iCCP profile inflating to 1 GiB is never inflated", () => {
  const file = iccpBomb();
  const t = performance.now();
  const pixels = decodeImage(file);
  assert.equal(pixels.width, 1);
  assert.ok(performance.now() - t < 1000);
  // The ancillary byte cap still refuses a file made mostly of such chunks.
  const many = pngFile([
    ["IHDR", ihdr(1, 1, 8, 0)],
    ...Array.from(
      { length: 300 },
      () => ["teXt", new Uint8Array(1)] as [string, Uint8Array],
    ),
    ["IDAT", zeroBomb(2)],
    ["IEND", new Uint8Array(0)],
  ]);
  refused(() => decodeImage(many), /more than 256 ancillary chunks/);
});

Deno.test("image decode: a 40 MP 16-bit RGBA PNG is refused from its header, or streams into the model input when allowed", () => {
  const file = rgba16Big();
  const ms0 = refused(
    () => decodeImageToInput(file, 32, 32),
    /inflates to 305 MiB .* more than the limit of 128 MiB/,
  );
  assert.ok(ms0 < 100, `refused in ${ms0.toFixed(0)} ms`);
  const t = performance.now();
  const input = decodeImageToInput(file, 32, 32, {
    maxPngDataBytes: 512 * 1024 * 1024,
  });
  const ms = performance.now() - t;
  assert.equal(maxDiff(input, new Float32Array(32 * 32 * 3)), 0);
  console.log(`6324x6324 RGBA16 (${file.length} bytes): ${ms.toFixed(0)} ms`);
  // A limit below it refuses it from the header.
  refused(
    () => decodeImageToInput(file, 32, 32, { maxPixels: 1e6 }),
    /more than the limit of 1000000 pixels/,
  );
});

Deno.test("image decode: 360,000 one-byte IDAT chunks (4.7 MB) are gathered, not pushed one by one", () => {
  const file = tinyIdats();
  const t = performance.now();
  const pixels = decodeImage(file);
  const ms = performance.now() - t;
  console.log(`${file.length} bytes of one-byte IDATs: ${ms.toFixed(0)} ms`);
  assert.equal(pixels.width, 600);
  // Pushed one by one they took 73 µs each (26 s); gathered, about 0.2 s.
  assert.ok(ms < 5000, `${ms.toFixed(0)} ms`);
});

Deno.test("image decode: tall thin images stream row by row within the limits", () => {
  const file = tallThin(65_535);
  const input = decodeImageToInput(file, 32, 32);
  assert.equal(maxDiff(input, new Float32Array(32 * 32 * 3)), 0);
});

Deno.test("image decode: every PNG depth, colour type and interlace decodes exactly", () => {
  const rng = new Rng(7);
  const cases: [number, number][] = [
    [0, 1],
    [0, 2],
    [0, 4],
    [0, 8],
    [0, 16],
    [2, 8],
    [2, 16],
    [3, 1],
    [3, 2],
    [3, 4],
    [3, 8],
    [4, 8],
    [4, 16],
    [6, 8],
    [6, 16],
  ];
  for (const [colorType, depth] of cases) {
    for (const [w, h] of [[1, 1], [3, 2], [9, 11], [17, 5]]) {
      const img = randomImage(rng, w!, h!, depth, colorType);
      const want = expected(img);
      for (const interlace of [false, true]) {
        const file = encodeRaw(img, interlace, 1 + rng.int(3));
        const got = decodeImage(file);
        const what =
          `type ${colorType} depth ${depth} ${w}x${h} interlace ${interlace}`;
        assert.equal(got.channels, want.channels, what);
        assert.deepEqual(got.data, want.data, what);
        const streamed = decodeImageToInput(file, 32, 32);
        assert.ok(
          maxDiff(streamed, referencePixelsToInput(got, 32, 32)) < 1e-6,
          what,
        );
      }
    }
  }
});

Deno.test("image decode: files written by fast-png decode as fast-png reads them", () => {
  for (const channels of [1, 2, 3, 4]) {
    for (const depth of [8, 16] as const) {
      const n = 13 * 7 * channels;
      const data = depth === 8
        ? pattern(13, 7, channels, channels)
        : Uint16Array.from({ length: n }, (_, i) => (i * 2654435761) & 0xffff);
      const file = png(data, 13, 7, channels, depth);
      const ref = fastPngDecode(file);
      const got = decodeImage(file);
      const want = depth === 8
        ? ref.data
        : Uint8Array.from(ref.data, (v) => v >> 8);
      assert.deepEqual(got.data, Uint8Array.from(want));
    }
  }
});

Deno.test("image decode: streaming resize equals the previous whole-image resize", () => {
  const rng = new Rng(11);
  for (let k = 0; k < 60; k++) {
    const w = 1 + rng.int(k % 3 === 0 ? 20 : 300),
      h = 1 + rng.int(k % 4 === 0 ? 20 : 300);
    const channels = (1 + rng.int(4)) as 1 | 2 | 3 | 4;
    const data = Uint8Array.from(
      { length: w * h * channels },
      () => rng.int(256),
    );
    const [oh, ow] = [[32, 32], [24, 40], [7, 5]][k % 3]!;
    const pixels = { data, width: w, height: h, channels };
    const diff = maxDiff(
      pixelsToInput(pixels, oh!, ow!),
      referencePixelsToInput(pixels, oh!, ow!),
    );
    assert.ok(diff < 1e-6, `${w}x${h}x${channels} -> ${ow}x${oh}: ${diff}`);
  }
});

Deno.test("image decode: malformed containers give one-line errors", () => {
  const good = png(pattern(20, 20, 3, 1), 20, 20, 3);
  refused(() => decodeImage(good.subarray(0, good.length - 13)), /truncated/);
  refused(
    () => decodeImage(pngFile([["IHDR", ihdr(2, 2, 3, 0)]])),
    /bit depth 3 is invalid/,
  );
  refused(
    () => decodeImage(pngFile([["IHDR", ihdr(2, 2, 8, 0, 2)]])),
    /interlace method 2/,
  );
  refused(
    () => decodeImage(pngFile([["IHDR", ihdr(0, 2, 8, 0)]])),
    /size 0x2 is invalid/,
  );
  refused(
    () =>
      decodeImage(
        pngFile([["IHDR", ihdr(2, 2, 8, 0)], ["IDAT", zeroBomb(5)], [
          "IEND",
          new Uint8Array(0),
        ]]),
      ),
    /truncated \(5 of 6 bytes\)/,
  );
  refused(
    () =>
      decodeImage(
        pngFile([["IHDR", ihdr(2, 2, 8, 3)], ["IDAT", zeroBomb(6)], [
          "IEND",
          new Uint8Array(0),
        ]]),
      ),
    /no PLTE chunk before IDAT/,
  );
  refused(
    () =>
      decodeImage(
        pngFile([["IHDR", ihdr(2, 2, 8, 0)], [
          "IDAT",
          new Uint8Array([0x78, 1, 7, 7]),
        ], ["IEND", new Uint8Array(0)]]),
      ),
    /PNG file cannot be decoded/,
  );
  const bad = good.slice();
  bad[40] = bad[40]! ^ 1;
  refused(() => decodeImage(bad), /CRC/);
});

Deno.test("image decode: jpeg bound: scans and block work are checked before jpeg-js", () => {
  const file = jpeg(pattern(40, 30, 3, 3), 40, 30);
  assert.equal(decodeImage(file).width, 40);
  // 250 KB of 6,500 scans (30 s in jpeg-js before) and the 5 MB form.
  for (const [w, scans] of [[4096, 6_500], [6000, 80_000]] as const) {
    const bomb = progressiveBomb(w, w, scans);
    const ms = refused(
      () => decodeImage(bomb),
      /more than 64 scans|more than 12000000 blocks/,
    );
    console.log(
      `progressive ${w}x${w}, ${scans} scans, ${bomb.length} bytes: refused in ${
        ms.toFixed(1)
      } ms`,
    );
  }
  refused(
    () => decodeImage(progressiveBomb(4096, 4096, 60)),
    /more than 12000000 blocks/,
  );
  // The worst accepted scan form: 64 scans just under the block bound,
  // timed against the same image in one scan (what its pixels cost anyway).
  const ms = (file: Uint8Array) => {
    const t = performance.now();
    assert.equal(decodeImage(file).width, 3456);
    return performance.now() - t;
  };
  const base = ms(progressiveBomb(3456, 3456, 0));
  const worst = progressiveBomb(3456, 3456, 63);
  const slow = ms(worst);
  console.log(
    `3456x3456 grey: 1 scan ${base.toFixed(0)} ms, 64 scans ` +
      `(11.9 M block visits, the worst accepted) ${slow.toFixed(0)} ms`,
  );
  refused(
    () => decodeImage(worst, { maxJpegBlockScans: 1e6 }),
    /more than 1000000 blocks/,
  );
  refused(
    () => decodeImage(file.subarray(0, 40)),
    /JPEG file cannot be decoded/,
  );
});
