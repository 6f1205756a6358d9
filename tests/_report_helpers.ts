/**
 * Test helpers for the report tests: random rasters, an independent PNG
 * reader (chunk CRCs, zlib through node:zlib, all five filters) so encoded
 * files are checked without trusting fast-png's decoder, and an SVG parser
 * that fails on malformed XML.
 *
 * @module
 */

import assert from "node:assert/strict";
import { inflateSync } from "node:zlib";
import { DOMParser } from "@xmldom/xmldom";
import type { Pixels } from "../src/image/pixels.ts";
import { rng } from "./_report_fixture.ts";

export function randomRaster(
  width: number,
  height: number,
  channels: Pixels["channels"],
  seed: number,
): Pixels {
  const random = rng(seed);
  const data = Uint8Array.from(
    { length: width * height * channels },
    () => Math.floor(random() * 256),
  );
  return { data, width, height, channels };
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
export function readPng(png: Uint8Array): Pixels {
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  let pos = 8;
  let width = 0, height = 0, channels = 0;
  const idat: Uint8Array[] = [];
  while (pos < png.length) {
    const length = view.getUint32(pos);
    const type = new TextDecoder().decode(png.subarray(pos + 4, pos + 8));
    const body = png.subarray(pos + 8, pos + 8 + length);
    assert.equal(
      view.getUint32(pos + 8 + length),
      crc32(png.subarray(pos + 4, pos + 8 + length)),
      `${type} CRC`,
    );
    if (type === "IHDR") {
      width = view.getUint32(pos + 8);
      height = view.getUint32(pos + 12);
      assert.equal(body[8], 8, "bit depth");
      channels = ({ 0: 1, 2: 3, 6: 4 } as Record<number, number>)[body[9]!]!;
      assert.equal(body[12], 0, "not interlaced");
    }
    if (type === "IDAT") idat.push(body);
    pos += 12 + length;
  }
  const raw = new Uint8Array(
    inflateSync(new Uint8Array(idat.flatMap((c) => [...c]))),
  );
  const stride = width * channels;
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    for (let i = 0; i < stride; i++) {
      const x = raw[y * (stride + 1) + 1 + i]!;
      const a = i >= channels ? out[y * stride + i - channels]! : 0;
      const b = y > 0 ? out[(y - 1) * stride + i]! : 0;
      const c = y > 0 && i >= channels
        ? out[(y - 1) * stride + i - channels]!
        : 0;
      const p = a + b - c;
      const pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
      const paeth = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter];
      assert.notEqual(predictor, undefined, `filter ${filter}`);
      out[y * stride + i] = (x + predictor!) & 0xff;
    }
  }
  return { data: out, width, height, channels: channels as Pixels["channels"] };
}

export type XmlDocument = ReturnType<DOMParser["parseFromString"]>;

export function parseXml(text: string, what: string): XmlDocument {
  const doc = new DOMParser({
    onError: (level: string, message: string) => {
      if (level !== "warning") {
        throw new Error(`${what} is not well-formed XML: ${message}`);
      }
    },
  }).parseFromString(text, "image/svg+xml");
  assert.equal(doc.documentElement?.tagName, "svg", `${what} root element`);
  return doc;
}
