// Direct convolution for layers with few input taps (kh * kw * C small: the
// fast network's 2x2 whitening stem over RGB, 12 taps), with bias and relu
// fused. The implicit GEMM (conv_gemm) packs a panel of patches for a
// reduction of only 12, then makes a second pass for the bias. Here each
// output row's input rows are first
// copied into a zero-padded strip, so every output pixel reads its taps
// straight from the strip with no edge test, six pixels of a row by eight
// output channels at a time (twelve accumulators in flight). Against four
// pixels with edge pixels one at a time (medians of 25 calls, EPYC AVX-512,
// 1 / 2 threads): the stem at batch 512 12.2 -> 8.4 / 5.9 -> 4.3 ms. (The
// seed CNN's first 3x3 layer ran 3.6 -> 2.6 / 2.3 -> 1.3 ms here against
// Winograd, but stays there: see src/kernels/conv2d.ts.)
// The host takes this path for N a multiple of 8 and few taps (see
// src/kernels/conv_gemm.ts).

import { madd } from "./gemm";
import { p32, splitRange } from "./params";
import { ConvDirect, Geom } from "./blocks";

// Output pixels per micro-tile.
const PX: i32 = 6;

// Input columns of a strip: every tap of rowsW + PX output columns (a last
// partial micro-tile reads past the row).
function stripCols(kw: i32, rowsW: i32, strideW: i32, dilW: i32): i32 {
  return (rowsW + PX - 1) * strideW + (kw - 1) * dilW + 1;
}

// Per-thread scratch bytes of conv_direct (called by the host): the strip
// of kh input rows, then one quad of outputs for a row's last pixels.
export function conv_direct_scratch(
  kh: i32, kw: i32, C: i32, rowsW: i32, strideW: i32, dilW: i32, N: i32,
): i32 {
  const strip = kh * stripCols(kw, rowsW, strideW, dilW) * C * 4;
  return (strip + 15) / 16 * 16 + 4 * 32;
}

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
  const scratch = <usize> p32(p, ConvDirect.scratch) +
    <usize> tid * <usize> p32(p, ConvDirect.scratchStride);
  const r = splitRange(g.batch * g.rowsH, 1, tid, nt);
  const C = g.imgC, kh = g.kh, rowsW = g.rowsW, dilW = g.dilW;
  const px = <usize> C * 4, sx = <usize> g.strideW * px;
  const cols = stripCols(g.kw, rowsW, g.strideW, dilW);
  const stripRow = <usize> cols * px, span = g.kw * C;
  const tile = scratch + ((<usize> kh * stripRow + 15) & ~15);
  const wn = <usize> N * 4;
  for (let row = <i32> (r >> 32); row < <i32> r; row++) {
    const b = row / g.rowsH, oy = row % g.rowsH;
    const o = out + <usize> row * <usize> rowsW * wn;
    if (dilW != 1) {
      for (let n = 0; n < N; n += 8) {
        for (let ox = 0; ox < rowsW; ox++) pixel(g, img, w, b, oy, ox, N, n, bias, relu, o);
      }
      continue;
    }
    fillStrip(g, img, b, oy, cols, stripRow, scratch);
    for (let n = 0; n < N; n += 8) {
      const b0 = bias ? v128.load(bias + <usize> n * 4) : f32x4.splat(0);
      const b1 = bias ? v128.load(bias + <usize> n * 4, 16) : f32x4.splat(0);
      const wc = w + <usize> n * 4;
      // Six pixels at a time, then fours: 32 = 4 x 6 + 2 x 4, not 6 x 6
      // with four of them thrown away.
      let hexEnd = rowsW - rowsW % PX;
      if (rowsW % PX == 2 && hexEnd >= PX) hexEnd -= PX;
      let ox = 0;
      for (; ox < hexEnd; ox += PX) {
        const dst = o + (<usize> ox * <usize> N + <usize> n) * 4;
        hex(scratch + <usize> ox * sx, sx, stripRow, kh, span, wc, wn, b0, b1, relu, dst, wn);
      }
      for (; ox + 4 <= rowsW; ox += 4) {
        const dst = o + (<usize> ox * <usize> N + <usize> n) * 4;
        quad(scratch + <usize> ox * sx, sx, stripRow, kh, span, wc, wn, b0, b1, relu, dst, wn);
      }
      if (ox < rowsW) {
        // The row's last pixels: a whole quad into scratch, then the ones
        // that exist.
        quad(scratch + <usize> ox * sx, sx, stripRow, kh, span, wc, wn, b0, b1, relu, tile, 32);
        const dst = o + (<usize> ox * <usize> N + <usize> n) * 4;
        for (let i = 0; i < rowsW - ox; i++) {
          const d = dst + <usize> i * wn, t = tile + <usize> (i * 32);
          v128.store(d, v128.load(t));
          v128.store(d, v128.load(t, 16), 16);
        }
      }
    }
  }
}

// Copies input rows iy = oy * strideH + ky * dilH - padT (ky < kh) of image
// b into the strip, columns -padL .. cols - padL - 1, zeros outside the image.
function fillStrip(
  g: Geom, img: usize, b: i32, oy: i32, cols: i32, stripRow: usize, strip: usize,
): void {
  const px = <usize> g.imgC * 4;
  // Strip column j is image column j - padL (padL >= 0).
  const lead = <usize> min(g.padL, cols) * px;
  const x1 = min(cols - g.padL, g.imgW);
  const inside = x1 > 0 ? <usize> x1 * px : 0;
  for (let ky = 0; ky < g.kh; ky++) {
    const d = strip + <usize> ky * stripRow;
    const iy = oy * g.strideH + ky * g.dilH - g.padT;
    if (iy < 0 || iy >= g.imgH || inside == 0) {
      memory.fill(d, 0, stripRow);
      continue;
    }
    const src = img + <usize> (b * g.imgH + iy) * <usize> g.imgW * px;
    if (lead) memory.fill(d, 0, lead);
    memory.copy(d + lead, src, inside);
    const tail = stripRow - lead - inside;
    if (tail) memory.fill(d + lead + inside, 0, tail);
  }
}

@inline
function act(v: v128, relu: bool): v128 {
  return relu ? f32x4.max(v, f32x4.splat(0)) : v;
}

// Six output pixels of one row, channels [n, n + 8): src is the first
// pixel's top-left tap in the strip, sx the byte step between the pixels,
// rowStep between the strip's rows. With dilation 1 in x the kw * C taps of
// a filter row are contiguous, so a row is one loop of `span` taps. Pixel i
// is stored at o + i * os.
@inline
function hex(
  src: usize, sx: usize, rowStep: usize, kh: i32, span: i32,
  w: usize, wn: usize, b0: v128, b1: v128, relu: bool, o: usize, os: usize,
): void {
  let a0 = b0, a1 = b1, c0 = b0, c1 = b1, d0 = b0, d1 = b1;
  let e0 = b0, e1 = b1, f0 = b0, f1 = b1, g0 = b0, g1 = b1;
  const s2 = 2 * sx, s3 = 3 * sx, s4 = 4 * sx, s5 = 5 * sx;
  let wk = w;
  for (let ky = 0; ky < kh; ky++) {
    const q = src + <usize> ky * rowStep;
    const end = q + <usize> span * 4;
    for (let qc = q; qc < end; qc += 4) {
      const w0 = v128.load(wk), w1 = v128.load(wk, 16);
      let s = v128.load32_splat(qc);
      a0 = madd(s, w0, a0);
      a1 = madd(s, w1, a1);
      s = v128.load32_splat(qc + sx);
      c0 = madd(s, w0, c0);
      c1 = madd(s, w1, c1);
      s = v128.load32_splat(qc + s2);
      d0 = madd(s, w0, d0);
      d1 = madd(s, w1, d1);
      s = v128.load32_splat(qc + s3);
      e0 = madd(s, w0, e0);
      e1 = madd(s, w1, e1);
      s = v128.load32_splat(qc + s4);
      f0 = madd(s, w0, f0);
      f1 = madd(s, w1, f1);
      s = v128.load32_splat(qc + s5);
      g0 = madd(s, w0, g0);
      g1 = madd(s, w1, g1);
      wk += wn;
    }
  }
  v128.store(o, act(a0, relu));
  v128.store(o, act(a1, relu), 16);
  v128.store(o + os, act(c0, relu));
  v128.store(o + os, act(c1, relu), 16);
  v128.store(o + 2 * os, act(d0, relu));
  v128.store(o + 2 * os, act(d1, relu), 16);
  v128.store(o + 3 * os, act(e0, relu));
  v128.store(o + 3 * os, act(e1, relu), 16);
  v128.store(o + 4 * os, act(f0, relu));
  v128.store(o + 4 * os, act(f1, relu), 16);
  v128.store(o + 5 * os, act(g0, relu));
  v128.store(o + 5 * os, act(g1, relu), 16);
}

// Four output pixels, as hex.
@inline
function quad(
  src: usize, sx: usize, rowStep: usize, kh: i32, span: i32,
  w: usize, wn: usize, b0: v128, b1: v128, relu: bool, o: usize, os: usize,
): void {
  let a0 = b0, a1 = b1, c0 = b0, c1 = b1, d0 = b0, d1 = b1, e0 = b0, e1 = b1;
  const s2 = 2 * sx, s3 = 3 * sx;
  let wk = w;
  for (let ky = 0; ky < kh; ky++) {
    const q = src + <usize> ky * rowStep;
    const end = q + <usize> span * 4;
    for (let qc = q; qc < end; qc += 4) {
      const w0 = v128.load(wk), w1 = v128.load(wk, 16);
      let s = v128.load32_splat(qc);
      a0 = madd(s, w0, a0);
      a1 = madd(s, w1, a1);
      s = v128.load32_splat(qc + sx);
      c0 = madd(s, w0, c0);
      c1 = madd(s, w1, c1);
      s = v128.load32_splat(qc + s2);
      d0 = madd(s, w0, d0);
      d1 = madd(s, w1, d1);
      s = v128.load32_splat(qc + s3);
      e0 = madd(s, w0, e0);
      e1 = madd(s, w1, e1);
      wk += wn;
    }
  }
  v128.store(o, act(a0, relu));
  v128.store(o, act(a1, relu), 16);
  v128.store(o + os, act(c0, relu));
  v128.store(o + os, act(c1, relu), 16);
  v128.store(o + 2 * os, act(d0, relu));
  v128.store(o + 2 * os, act(d1, relu), 16);
  v128.store(o + 3 * os, act(e0, relu));
  v128.store(o + 3 * os, act(e1, relu), 16);
}

// One output pixel, channels [n, n + 8), taps checked against the image
// (dilation in x, where a filter row's taps are not contiguous).
function pixel(
  g: Geom, img: usize, w: usize, b: i32, oy: i32, ox: i32, N: i32, n: i32,
  bias: usize, relu: bool, o: usize,
): void {
  let a0 = bias ? v128.load(bias + <usize> n * 4) : f32x4.splat(0);
  let a1 = bias ? v128.load(bias + <usize> n * 4, 16) : f32x4.splat(0);
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
