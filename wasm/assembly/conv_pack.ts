// Implicit im2col: gathers convolution patches straight from an NHWC image
// into packed GEMM panels, so no im2col matrix is ever materialised.
//
// A patch row r = (b, ry, rx) reads image pixel (y, x) for kernel tap (ky, kx)
// at pos = r*stride + k*dil - pad, valid when pos is a multiple of `up` and
// pos/up lies inside the image. up = 1 gives the forward convolution;
// up = stride gives the transposed one (input gradient), where the image is
// the output gradient seen through zero-insertion.

import { MR, NR } from "./gemm";
// The geometry words that start the convolution parameter blocks (declared
// as GEOM in src/kernels/conv_gemm.ts).
import { Geom } from "./blocks";

// Byte offset of the image pixel for patch row r and tap (ky, kx), or -1 when
// the tap falls in padding or between inserted zeros.
function tapOffset(g: Geom, b: i32, ry: i32, rx: i32, ky: i32, kx: i32): isize {
  const py = ry * g.strideH + ky * g.dilH - g.padT;
  const px = rx * g.strideW + kx * g.dilW - g.padL;
  if (py < 0 || px < 0) return -1;
  if (g.upH > 1 && py % g.upH != 0) return -1;
  if (g.upW > 1 && px % g.upW != 0) return -1;
  const y = py / g.upH;
  const x = px / g.upW;
  if (y >= g.imgH || x >= g.imgW) return -1;
  return <isize> (((b * g.imgH + y) * g.imgW + x) * g.imgC) * 4;
}

// Packs patch rows [r0, r0+mr) x patch columns [k0, k0+kc) into a [kc][MR]
// A panel. Patch column k = (ky*kw + kx)*imgC + c.
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
  // Decompose the (at most MR) rows once.
  let b0 = 0, y0 = 0, x0 = 0, b1 = 0, y1 = 0, x1 = 0;
  let b2 = 0, y2 = 0, x2 = 0, b3 = 0, y3 = 0, x3 = 0;
  for (let i = 0; i < MR; i++) {
    const r = min(r0 + i, r0 + mr - 1);
    const b = r / hw;
    const rem = r - b * hw;
    const y = rem / g.rowsW;
    const x = rem - y * g.rowsW;
    if (i == 0) {
      b0 = b;
      y0 = y;
      x0 = x;
    } else if (i == 1) {
      b1 = b;
      y1 = y;
      x1 = x;
    } else if (i == 2) {
      b2 = b;
      y2 = y;
      x2 = x;
    } else {
      b3 = b;
      y3 = y;
      x3 = x;
    }
  }
  const zero = f32x4.splat(0);
  let k = k0;
  const kEnd = k0 + kc;
  while (k < kEnd) {
    const tap = k / C;
    const c0 = k - tap * C;
    const ky = tap / g.kw;
    const kx = tap - ky * g.kw;
    const run = min(C - c0, kEnd - k); // columns left in this tap
    const o0 = tapOffset(g, b0, y0, x0, ky, kx);
    const o1 = mr > 1 ? tapOffset(g, b1, y1, x1, ky, kx) : -1;
    const o2 = mr > 2 ? tapOffset(g, b2, y2, x2, ky, kx) : -1;
    const o3 = mr > 3 ? tapOffset(g, b3, y3, x3, ky, kx) : -1;
    const cOff = <isize> c0 * 4;
    let d = dst + <usize> ((k - k0) * MR * 4);
    let j = 0;
    // 4x4 transposes: four channels of four rows at a time.
    for (; j + 4 <= run; j += 4) {
      const s = cOff + <isize> j * 4;
      const r0v = o0 >= 0 ? v128.load(img + <usize> (o0 + s)) : zero;
      const r1v = o1 >= 0 ? v128.load(img + <usize> (o1 + s)) : zero;
      const r2v = o2 >= 0 ? v128.load(img + <usize> (o2 + s)) : zero;
      const r3v = o3 >= 0 ? v128.load(img + <usize> (o3 + s)) : zero;
      const t0 = v128.shuffle<u32>(r0v, r1v, 0, 4, 1, 5);
      const t1 = v128.shuffle<u32>(r2v, r3v, 0, 4, 1, 5);
      const t2 = v128.shuffle<u32>(r0v, r1v, 2, 6, 3, 7);
      const t3 = v128.shuffle<u32>(r2v, r3v, 2, 6, 3, 7);
      v128.store(d, v128.shuffle<u64>(t0, t1, 0, 2));
      v128.store(d, v128.shuffle<u64>(t0, t1, 1, 3), 16);
      v128.store(d, v128.shuffle<u64>(t2, t3, 0, 2), 32);
      v128.store(d, v128.shuffle<u64>(t2, t3, 1, 3), 48);
      d += 64;
    }
    for (; j < run; j++) {
      const s = cOff + <isize> j * 4;
      store<f32>(d, o0 >= 0 ? load<f32>(img + <usize> (o0 + s)) : 0);
      store<f32>(d, o1 >= 0 ? load<f32>(img + <usize> (o1 + s)) : 0, 4);
      store<f32>(d, o2 >= 0 ? load<f32>(img + <usize> (o2 + s)) : 0, 8);
      store<f32>(d, o3 >= 0 ? load<f32>(img + <usize> (o3 + s)) : 0, 12);
      d += 16;
    }
    k += run;
  }
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
