import assert from "node:assert/strict";
import { encodePng } from "../src/image/mod.ts";
import { decode } from "fast-png";
import {
  applyViridis,
  featureStrip,
  normalizeFeatureChannel,
  tileImages,
  upscaleNearest,
} from "../src/report/mod.ts";
import { BLUES, cssColorAt, VIRIDIS } from "../src/report/colormap.ts";
import { rng } from "./_report_fixture.ts";
import { randomRaster, readPng } from "./_report_helpers.ts";

Deno.test("PNG files decode back to the same pixels", () => {
  for (const [channels, seed] of [[3, 1], [1, 2], [4, 3]] as const) {
    const image = randomRaster(13, 7, channels, seed);
    const png = encodePng(image);
    assert.deepEqual(readPng(png), image);
    const other = decode(png);
    assert.equal(other.width, 13);
    assert.equal(other.channels, channels);
    assert.deepEqual([...other.data], [...image.data]);
  }
  assert.throws(
    () =>
      encodePng({ data: new Uint8Array(5), width: 2, height: 1, channels: 3 }),
    /5 bytes but 2x1x3 needs 6/,
  );
  assert.throws(
    () =>
      encodePng({ data: new Uint8Array(4), width: 2, height: 1, channels: 2 }),
    /2 channels/,
  );
});

Deno.test("upscaleNearest turns each pixel into a block", () => {
  const image = randomRaster(5, 3, 3, 4);
  const big = upscaleNearest(image, 4);
  assert.equal(big.width, 20);
  assert.equal(big.height, 12);
  for (let y = 0; y < big.height; y++) {
    for (let x = 0; x < big.width; x++) {
      for (let c = 0; c < 3; c++) {
        assert.equal(
          big.data[(y * 20 + x) * 3 + c],
          image.data[(Math.floor(y / 4) * 5 + Math.floor(x / 4)) * 3 + c],
        );
      }
    }
  }
  assert.throws(() => upscaleNearest(image, 1.5), /whole number/);
});

Deno.test("tileImages places images in rows with gaps", () => {
  const a = randomRaster(2, 2, 1, 5);
  const b = randomRaster(2, 2, 1, 6);
  const c = randomRaster(2, 2, 1, 7);
  const grid = tileImages([a, b, c], 2, 1, 9);
  assert.equal(grid.width, 5);
  assert.equal(grid.height, 5);
  const at = (x: number, y: number) => grid.data[y * 5 + x];
  assert.equal(at(1, 1), a.data[3]);
  assert.equal(at(3, 0), b.data[0]);
  assert.equal(at(1, 4), c.data[3]);
  assert.equal(at(2, 0), 9); // gap
  assert.equal(at(4, 4), 9); // empty cell
  assert.throws(() => tileImages([a, randomRaster(3, 2, 1, 8)], 2), /one size/);
});

Deno.test("normalizeFeatureChannel follows the seed's formula", () => {
  // By hand: mean 1, std 1, so (-1 / 1.00001) * 64 + 128 = 64.0006 and 191.9994.
  assert.deepEqual([...normalizeFeatureChannel([0, 2])], [64, 191]);
  // A dead (constant) channel maps to 128 everywhere.
  assert.deepEqual(
    [...normalizeFeatureChannel(new Float32Array(9).fill(3))],
    new Array(9).fill(128),
  );
  assert.deepEqual([...normalizeFeatureChannel([Number.NaN, 1])], [0, 0]);

  const plain = (x: number[], round: (v: number) => number): number[] => {
    const n = x.length;
    let sum = 0;
    for (const v of x) sum = round(sum + v);
    const mean = round(sum / n);
    const c = x.map((v) => round(v - mean));
    let sum2 = 0;
    for (const v of c) sum2 = round(sum2 + v);
    const mean2 = round(sum2 / n);
    let sq = 0;
    for (const v of c) sq = round(sq + round((v - mean2) ** 2));
    const std = round(Math.sqrt(round(sq / n)));
    const div = round(std + round(1e-5));
    return c.map((v) => {
      const y = round(round(round(v / div) * 64) + 128);
      return Math.trunc(Math.min(255, Math.max(0, y)));
    });
  };
  const random = rng(9);
  // Quarter-integers sum exactly in float32 in any order: identical bytes.
  const dyadic = Array.from(
    { length: 1024 },
    () => Math.floor(random() * 40) / 4,
  );
  assert.deepEqual(
    [...normalizeFeatureChannel(dyadic)],
    plain(dyadic, Math.fround),
  );
  // Arbitrary activations: float32 vs a float64 loop differ by at most one step.
  const values = Array.from(
    { length: 256 },
    () => Math.max(0, random() * 3 - 1),
  );
  const got = normalizeFeatureChannel(values);
  const want = plain(values, (v) => v);
  got.forEach((v, i) =>
    assert.ok(Math.abs(v - want[i]!) <= 1, `pixel ${i}: ${v} vs ${want[i]}`)
  );
  assert.ok(
    got.some((v) => v === 0) || got.some((v) => v > 200),
    "values spread over the range",
  );
});

Deno.test("applyViridis stretches min..max over the colour map", () => {
  assert.deepEqual([...VIRIDIS.lut.subarray(0, 3)], [0x44, 0x01, 0x54]);
  // matplotlib truncates float * 255 when it draws: (0.993248, 0.906157, 0.143936) gives 253, 231, 36.
  assert.deepEqual([...VIRIDIS.lut.subarray(765)], [253, 231, 36]);
  assert.equal(cssColorAt(BLUES, 0), "#f7fbff");
  assert.equal(cssColorAt(BLUES, 1), "#08306b");
  const rgb = applyViridis({
    data: Uint8Array.of(10, 20, 30),
    width: 3,
    height: 1,
    channels: 1,
  });
  assert.deepEqual([...rgb.data.subarray(0, 3)], [
    ...VIRIDIS.lut.subarray(0, 3),
  ]);
  assert.deepEqual([...rgb.data.subarray(3, 6)], [
    ...VIRIDIS.lut.subarray(128 * 3, 129 * 3),
  ]);
  assert.deepEqual([...rgb.data.subarray(6, 9)], [
    ...VIRIDIS.lut.subarray(765),
  ]);
});

Deno.test("featureStrip shows the first 16 channels side by side", () => {
  const layer = {
    name: "conv2d",
    height: 4,
    width: 5,
    channels: 20,
    data: Float32Array.from({ length: 4 * 5 * 20 }, (_, i) => (i * 7919) % 13),
  };
  const strip = featureStrip(layer, 16, 8);
  assert.equal(strip.shown, 16);
  assert.equal(strip.scale, 2);
  assert.equal(strip.image.width, 5 * 16 * 2);
  assert.equal(strip.image.height, 4 * 2);
  assert.equal(strip.image.channels, 3);
  assert.throws(
    () => featureStrip({ ...layer, data: new Float32Array(10) }),
    /has 10 values but 4x5x20 needs 400/,
  );
});
