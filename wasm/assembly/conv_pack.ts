// Implicit im2col: gathers convolution patches straight from an NHWC image
// into packed GEMM panels, so no im2col matrix is ever materialised.
//
// A patch row r = (b, ry, rx) reads image pixel (y, x) for kernel tap (ky, kx)
// at pos = r*stride + k*dil - pad, valid inside the image. (Strided input
// gradients, which had read the output gradient through inserted zeros here,
// are a product and col2im now: src/kernels/conv_input_grad.ts.)

import { MR6, NR } from "./gemm";
// The geometry words that start the convolution parameter blocks (declared
// as GEOM in src/kernels/conv_gemm.ts).
import { Geom } from "./blocks";

// Byte offset of the image pixel for patch row r and tap (ky, kx), or -1 when
// the tap falls in padding.
function tapOffset(g: Geom, b: i32, ry: i32, rx: i32, ky: i32, kx: i32): isize {
  const y = ry * g.strideH + ky * g.dilH - g.padT;
  const x = rx * g.strideW + kx * g.dilW - g.padL;
  if (y < 0 || x < 0 || y >= g.imgH || x >= g.imgW) return -1;
  return <isize> (((b * g.imgH + y) * g.imgW + x) * g.imgC) * 4;
}

// Packs patch rows [r0, r0+mr) x patch columns [k0, k0+kc) into an A panel
// of gemm.ts: six rows of kc floats, rows past mr zero. Patch column k =
// (ky*kw + kx)*imgC + c, so each tap is a run of contiguous channels.
export function packAConv(
  g: Geom,
  img: usize,
  r0: i32,
  mr: i32,
  k0: i32,
  kc: i32,
  dst: usize,
): void {
  const C = g.imgC;
  const hw = g.rowsH * g.rowsW;
  const row = <usize> kc * 4;
  const kEnd = k0 + kc;
  for (let i = 0; i < mr; i++) {
    const r = r0 + i;
    const b = r / hw;
    const rem = r - b * hw;
    const y = rem / g.rowsW;
    const x = rem - y * g.rowsW;
    let d = dst + <usize> i * row;
    let k = k0;
    while (k < kEnd) {
      const tap = k / C;
      const c0 = k - tap * C;
      const ky = tap / g.kw;
      const kx = tap - ky * g.kw;
      const run = min(C - c0, kEnd - k); // columns left in this tap
      const o = tapOffset(g, b, y, x, ky, kx);
      if (o >= 0) copyFloats(d, img + <usize> (o + <isize> c0 * 4), run);
      else memory.fill(d, 0, <usize> run * 4);
      d += <usize> run * 4;
      k += run;
    }
  }
  for (let i = mr; i < MR6; i++) memory.fill(dst + <usize> i * row, 0, row);
}

// n floats from src to dst, four at a time (memory.copy's call costs more
// than a few channels).
@inline
function copyFloats(dst: usize, src: usize, n: i32): void {
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    v128.store(dst + <usize> j * 4, v128.load(src + <usize> j * 4));
  }
  for (; j < n; j++) store<f32>(dst + <usize> j * 4, load<f32>(src + <usize> j * 4));
}

// Packs patch rows [r0, r0+kc) (the reduction dimension) x every patch column
// into ceil(K/NR) B panels of [kc][NR], zero-padding the last panel. Used by
// the filter gradient, where the reduction runs over pixels.
export function packBConv(
  g: Geom,
  img: usize,
  r0: i32,
  kc: i32,
  dst: usize,
): void {
  const C = g.imgC;
  const taps = g.kh * g.kw;
  const K = taps * C;
  const panels = (K + NR - 1) / NR;
  const panelBytes = <usize> (kc * NR * 4);
  const hw = g.rowsH * g.rowsW;
  const zero = f32x4.splat(0);
  // Zero the padding lanes of the last panel once per block.
  if (K % NR != 0) {
    const last = dst + <usize> (panels - 1) * panelBytes;
    for (let q = 0; q < kc; q++) {
      for (let l = K % NR; l < NR; l++) {
        store<f32>(last + <usize> (q * NR * 4 + l * 4), 0);
      }
    }
  }
  for (let q = 0; q < kc; q++) {
    const r = r0 + q;
    const b = r / hw;
    const rem = r - b * hw;
    const ry = rem / g.rowsW;
    const rx = rem - ry * g.rowsW;
    const rowOff = <usize> (q * NR * 4);
    for (let tap = 0; tap < taps; tap++) {
      const ky = tap / g.kw;
      const kx = tap - ky * g.kw;
      const o = tapOffset(g, b, ry, rx, ky, kx);
      const kBase = tap * C;
      if ((C & 3) == 0) {
        for (let c = 0; c < C; c += 4) {
          const k = kBase + c;
          const d = dst + <usize> (k / NR) * panelBytes + rowOff +
            <usize> ((k % NR) * 4);
          v128.store(
            d,
            o >= 0 ? v128.load(img + <usize> (o + <isize> c * 4)) : zero,
          );
        }
      } else {
        for (let c = 0; c < C; c++) {
          const k = kBase + c;
          const d = dst + <usize> (k / NR) * panelBytes + rowOff +
            <usize> ((k % NR) * 4);
          store<f32>(
            d,
            o >= 0 ? load<f32>(img + <usize> (o + <isize> c * 4)) : 0,
          );
        }
      }
    }
  }
}
