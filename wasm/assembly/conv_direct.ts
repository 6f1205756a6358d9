// Direct convolution for layers with few input taps (kh * kw * C small:
// the fast network's 2x2 whitening stem over RGB, 12 taps), with bias and
// relu fused. The implicit GEMM (conv_gemm) packs a panel of patches for a
// reduction of only 12, then makes a second pass for the bias; here each
// output pixel reads its taps straight from the image, four pixels of a row
// by eight output channels at a time (eight accumulators in flight).
// The host takes this path for N a multiple of 8 and few taps (see
// src/kernels/conv_gemm.ts).

import { madd } from "./gemm";
import { p32, splitRange } from "./params";
import { ConvDirect, Geom } from "./blocks";

// out[b, oy, ox, n] = act(bias[n] + Σ x[b, iy, ix, c] · w[ky, kx, c, n]),
// iy = oy * strideH + ky * dilH - padT (taps outside the image add nothing).
// Threads split over output rows. Params: ConvDirect (bias 0 = none; act 0
// linear, 1 relu).
export function conv_direct(p: usize, tid: i32, nt: i32): void {
  const g = changetype<Geom>(p);
  const img = <usize> p32(p, ConvDirect.img);
  const w = <usize> p32(p, ConvDirect.w);
  const bias = <usize> p32(p, ConvDirect.bias);
  const out = <usize> p32(p, ConvDirect.out);
  const N = p32(p, ConvDirect.N);
  const relu = p32(p, ConvDirect.act) == 1;
  const r = splitRange(g.batch * g.rowsH, 1, tid, nt);
  const imgH = g.imgH, imgW = g.imgW, kh = g.kh, dilW = g.dilW;
  const strideW = g.strideW, padL = g.padL;
  const px = <usize> g.imgC * 4, sx = <usize> strideW * px;
  const rowStep = <usize> g.dilH * <usize> imgW * px, span = g.kw * g.imgC;
  const wn = <usize> N * 4;
  // Output columns whose taps all lie inside the image horizontally.
  let c0 = 0;
  while (c0 < g.rowsW && c0 * g.strideW - g.padL < 0) c0++;
  let c1 = g.rowsW;
  while (c1 > c0 && (c1 - 1) * g.strideW - g.padL + (g.kw - 1) * g.dilW >= g.imgW) c1--;
  for (let row = <i32> (r >> 32); row < <i32> r; row++) {
    const b = row / g.rowsH, oy = row % g.rowsH;
    const iy0 = oy * g.strideH - g.padT;
    const inside = iy0 >= 0 && iy0 + (g.kh - 1) * g.dilH < g.imgH;
    const o = out + <usize> row * <usize> g.rowsW * <usize> N * 4;
    for (let n = 0; n < N; n += 8) {
      const b0 = bias ? v128.load(bias + <usize> n * 4) : f32x4.splat(0);
      const b1 = bias ? v128.load(bias + <usize> n * 4, 16) : f32x4.splat(0);
      let ox = 0;
      if (inside && dilW == 1) {
        for (; ox < c0; ox++) pixel(g, img, w, b, oy, ox, N, n, b0, b1, relu, o);
        const img0 = img + <usize> (b * imgH + iy0) * <usize> imgW * px;
        for (; ox + 4 <= c1; ox += 4) {
          const src = img0 + <usize> (ox * strideW - padL) * px;
          quad(
            src, sx, rowStep, kh, span, w + <usize> n * 4, wn, b0, b1, relu,
            o + (<usize> ox * <usize> N + <usize> n) * 4,
          );
        }
      }
      for (; ox < g.rowsW; ox++) pixel(g, img, w, b, oy, ox, N, n, b0, b1, relu, o);
    }
  }
}

@inline
function act(v: v128, relu: bool): v128 {
  return relu ? f32x4.max(v, f32x4.splat(0)) : v;
}

// Four output pixels of one row, channels [n, n + 8), all taps inside: src
// is the first pixel's top-left tap, sx the byte step between the pixels.
// With dilation 1 in x the kw * C taps of a filter row are contiguous, so a
// row is one loop of `span` taps (the geometry in locals: the stores below
// could alias the parameter block, so V8 would reload fields in the loop).
@inline
function quad(
  src: usize, sx: usize, rowStep: usize, kh: i32, span: i32,
  w: usize, wn: usize, b0: v128, b1: v128, relu: bool, o: usize,
): void {
  let a0 = b0, a1 = b1, c0 = b0, c1 = b1, d0 = b0, d1 = b1, e0 = b0, e1 = b1;
  let wk = w;
  for (let ky = 0; ky < kh; ky++) {
    const q = src + <usize> ky * rowStep;
    for (let t: usize = 0; t < <usize> span * 4; t += 4) {
      const w0 = v128.load(wk), w1 = v128.load(wk, 16);
      const qc = q + t;
      let s = v128.load32_splat(qc);
      a0 = madd(s, w0, a0);
      a1 = madd(s, w1, a1);
      s = v128.load32_splat(qc + sx);
      c0 = madd(s, w0, c0);
      c1 = madd(s, w1, c1);
      s = v128.load32_splat(qc + 2 * sx);
      d0 = madd(s, w0, d0);
      d1 = madd(s, w1, d1);
      s = v128.load32_splat(qc + 3 * sx);
      e0 = madd(s, w0, e0);
      e1 = madd(s, w1, e1);
      wk += wn;
    }
  }
  v128.store(o, act(a0, relu));
  v128.store(o, act(a1, relu), 16);
  v128.store(o + wn, act(c0, relu));
  v128.store(o + wn, act(c1, relu), 16);
  v128.store(o + 2 * wn, act(d0, relu));
  v128.store(o + 2 * wn, act(d1, relu), 16);
  v128.store(o + 3 * wn, act(e0, relu));
  v128.store(o + 3 * wn, act(e1, relu), 16);
}

// One output pixel, channels [n, n + 8), taps checked against the image.
function pixel(
  g: Geom, img: usize, w: usize, b: i32, oy: i32, ox: i32, N: i32, n: i32,
  b0: v128, b1: v128, relu: bool, o: usize,
): void {
  let a0 = b0, a1 = b1;
  const C = g.imgC, wn = <usize> N * 4;
  for (let ky = 0; ky < g.kh; ky++) {
    const iy = oy * g.strideH + ky * g.dilH - g.padT;
    if (iy < 0 || iy >= g.imgH) continue;
    for (let kx = 0; kx < g.kw; kx++) {
      const ix = ox * g.strideW + kx * g.dilW - g.padL;
      if (ix < 0 || ix >= g.imgW) continue;
      const q = img + (<usize> (b * g.imgH + iy) * <usize> g.imgW + <usize> ix) * <usize> C * 4;
      let wk = w + (<usize> ((ky * g.kw + kx) * C) * <usize> N + <usize> n) * 4;
      for (let c = 0; c < C; c++) {
        const s = v128.load32_splat(q + <usize> c * 4);
        a0 = madd(s, v128.load(wk), a0);
        a1 = madd(s, v128.load(wk, 16), a1);
        wk += wn;
      }
    }
  }
  const d = o + (<usize> ox * <usize> N + <usize> n) * 4;
  v128.store(d, act(a0, relu));
  v128.store(d, act(a1, relu), 16);
}
