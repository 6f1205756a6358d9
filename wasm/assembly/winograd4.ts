// Winograd F(4x4, 3x3) convolution, forward: out = act(conv3x3(x, g) + b).
//
// Each 4x4 block of outputs costs 36 multiplies per channel pair instead of
// 144 (F(2x2, 3x3) needs 64), with interpolation points 0, ±1, ±2, ∞:
//
//   Y = Aᵀ [ Σ_k (G g Gᵀ) ⊙ (Bᵀ d B) ] A,   d a 6x6 patch
//
// The transforms scale by up to 8, so the result differs from a direct
// convolution by about 1e-6 of its magnitude (5e-6 per channel pair in a
// float32 check), against 1e-7 for F(2x2, 3x3). The structure is that of
// winograd_conv.ts with 36 positions: a filter transform into packed panels
// (wino_filter with size 6, once per filter), then per block of TB4 tiles
// an input transform, 36 GEMMs and an output transform with bias and relu
// fused.

import { NR } from "./gemm";
import { p32, splitRange } from "./params";
import { roundUp } from "./winograd";
import { positionGemms } from "./winograd_conv";

// Output tiles per block (see winogradScratch in src/kernels/ops.ts).
export const TB4: i32 = 8;

// Bᵀ applied to six vectors along one axis, written to dst + i * s.
@inline
function bt6(
  d0: v128, d1: v128, d2: v128, d3: v128, d4: v128, d5: v128,
  dst: usize, s: usize,
): void {
  const two = f32x4.splat(2), four = f32x4.splat(4), five = f32x4.splat(5);
  v128.store(dst, f32x4.add(f32x4.sub(f32x4.mul(d0, four), f32x4.mul(d2, five)), d4));
  v128.store(dst + s, f32x4.sub(f32x4.add(d3, d4), f32x4.mul(f32x4.add(d1, d2), four)));
  v128.store(dst + 2 * s, f32x4.add(f32x4.sub(d4, d3), f32x4.mul(f32x4.sub(d1, d2), four)));
  const a = f32x4.sub(d4, d2), b = f32x4.mul(f32x4.sub(d3, d1), two);
  v128.store(dst + 3 * s, f32x4.add(a, b));
  v128.store(dst + 4 * s, f32x4.sub(a, b));
  v128.store(dst + 5 * s, f32x4.add(f32x4.sub(f32x4.mul(d1, four), f32x4.mul(d3, five)), d5));
}

@inline
export function ldm(p: usize, on: bool): v128 {
  return on ? v128.load(p) : f32x4.splat(0);
}

// V = Bᵀ d B for one 6x6 patch of four channels into v + pos * ps. `x`
// addresses patch pixel (0, 0); bit i of rows (j of cols) is set when patch
// row i (column j) is inside the image. tmp holds 36 vectors.
@inline
export function inputTile4(
  x: usize, rs: usize, cs: usize, rows: i32, cols: i32,
  v: usize, ps: usize, tmp: usize,
): void {
  for (let j = 0; j < 6; j++) {
    const q = x + <usize> j * cs;
    if (((cols >> j) & 1) == 0) {
      bt6(f32x4.splat(0), f32x4.splat(0), f32x4.splat(0), f32x4.splat(0), f32x4.splat(0), f32x4.splat(0), tmp + <usize> j * 16, 96);
      continue;
    }
    bt6(
      ldm(q, (rows & 1) != 0),
      ldm(q + rs, (rows & 2) != 0),
      ldm(q + 2 * rs, (rows & 4) != 0),
      ldm(q + 3 * rs, (rows & 8) != 0),
      ldm(q + 4 * rs, (rows & 16) != 0),
      ldm(q + 5 * rs, (rows & 32) != 0),
      tmp + <usize> j * 16,
      96,
    );
  }
  for (let i = 0; i < 6; i++) {
    const q = tmp + <usize> i * 96;
    bt6(
      v128.load(q), v128.load(q, 16), v128.load(q, 32),
      v128.load(q, 48), v128.load(q, 64), v128.load(q, 80),
      v + <usize> (i * 6) * ps,
      ps,
    );
  }
}

// Aᵀ applied to six vectors along one axis, written to dst + i * s.
@inline
function at6(
  m0: v128, m1: v128, m2: v128, m3: v128, m4: v128, m5: v128,
  dst: usize, s: usize,
): void {
  const two = f32x4.splat(2), four = f32x4.splat(4), eight = f32x4.splat(8);
  const s12 = f32x4.add(m1, m2), d12 = f32x4.sub(m1, m2);
  const s34 = f32x4.add(m3, m4), d34 = f32x4.sub(m3, m4);
  v128.store(dst, f32x4.add(f32x4.add(m0, s12), s34));
  v128.store(dst + s, f32x4.add(d12, f32x4.mul(d34, two)));
  v128.store(dst + 2 * s, f32x4.add(s12, f32x4.mul(s34, four)));
  v128.store(dst + 3 * s, f32x4.add(f32x4.add(d12, f32x4.mul(d34, eight)), m5));
}

// Transforms the 6x6 input patches of output tiles [t0, t0 + tb) into
// v[pos][t][Kp]. A last group of fewer than four channels goes through a
// zero-padded copy, so the lane of the next pixel never enters the sums.
// tmp holds 72 vectors.
export function transformInputs4(
  x: usize,
  H: i32,
  W: i32,
  K: i32,
  padT: i32,
  padL: i32,
  tw: i32,
  th: i32,
  t0: i32,
  tb: i32,
  v: usize,
  vPos: usize,
  tmp: usize,
): void {
  const Kp = roundUp(K, 4), K4 = K & ~3, tail = K - K4;
  const rs = <usize> W * <usize> K * 4, cs = <usize> K * 4;
  const lanes = i32x4(-1, tail > 1 ? -1 : 0, tail > 2 ? -1 : 0, 0);
  const patch = tmp + 576;
  const zero = f32x4.splat(0);
  for (let t = 0; t < tb; t++) {
    const tile = t0 + t;
    const tx = tile % tw, rest = tile / tw;
    const ty = rest % th, b = rest / th;
    const y0 = ty * 4 - padT, x0 = tx * 4 - padL;
    let rows = 0, cols = 0;
    for (let i = 0; i < 6; i++) {
      if (y0 + i >= 0 && y0 + i < H) rows |= 1 << i;
      if (x0 + i >= 0 && x0 + i < W) cols |= 1 << i;
    }
    const src = <usize> (<isize> x +
      ((<isize> b * <isize> H + <isize> y0) * <isize> W + <isize> x0) *
        <isize> K * 4);
    const dst = v + <usize> t * <usize> Kp * 4;
    for (let c = 0; c < K4; c += 4) {
      inputTile4(src + <usize> c * 4, rs, cs, rows, cols, dst + <usize> c * 4, vPos, tmp);
    }
    if (tail) {
      for (let i = 0; i < 6; i++) {
        for (let j = 0; j < 6; j++) {
          const on = ((rows >> i) & (cols >> j) & 1) != 0;
          const q = src + <usize> i * rs + <usize> j * cs + <usize> K4 * 4;
          v128.store(
            patch + <usize> ((i * 6 + j) * 16),
            on ? v128.and(v128.load(q), lanes) : zero,
          );
        }
      }
      inputTile4(patch, 96, 16, 63, 63, dst + <usize> K4 * 4, vPos, tmp);
    }
  }
}

// out = act(conv3x3(x, g) + bias), stride 1, through the panels of
// wino4_filter; arguments as wino_conv. Threads split over 4-tile groups.
// Params: B H W K OH OW padT padL x u out N bias(0 = none) act scratch
// scratchPerThread.
export function wino4_conv(p: usize, tid: i32, nt: i32): void {
  const B = p32(p, 0), H = p32(p, 1), W = p32(p, 2), K = p32(p, 3);
  const OH = p32(p, 4), OW = p32(p, 5), padT = p32(p, 6), padL = p32(p, 7);
  const x = <usize> p32(p, 8), u = <usize> p32(p, 9), out = <usize> p32(p, 10);
  const N = p32(p, 11), bias = <usize> p32(p, 12), act = p32(p, 13);
  const scratch = <usize> p32(p, 14) + <usize> tid * <usize> p32(p, 15);
  const Np = roundUp(N, NR), Kp = roundUp(K, 4);
  const tw = (OW + 3) >> 2, th = (OH + 3) >> 2;
  const T = B * th * tw;
  const r = splitRange(T, 4, tid, nt);
  const r0 = <i32> (r >> 32), r1 = <i32> r;
  const vPos = <usize> TB4 * <usize> Kp * 4;
  const mPos = <usize> TB4 * <usize> Np * 4;
  const vBuf = scratch;
  const mBuf = vBuf + 36 * vPos;
  const tmp = mBuf + 36 * mPos; // 72 vectors
  const patch = tmp + 576;
  const orow = <usize> OW * <usize> N * 4, opx = <usize> N * 4;
  const zero = f32x4.splat(0);
  for (let t0 = r0; t0 < r1; t0 += TB4) {
    const tb = min(TB4, r1 - t0);
    transformInputs4(x, H, W, K, padT, padL, tw, th, t0, tb, vBuf, vPos, tmp);
    positionGemms(36, tb, Kp, Np, vBuf, vPos, u, mBuf, mPos);
    for (let t = 0; t < tb; t++) {
      const tile = t0 + t;
      const tx = tile % tw, rest = tile / tw;
      const ty = rest % th, b = rest / th;
      const oy = ty * 4, ox = tx * 4;
      const nr = min(4, OH - oy), nc = min(4, OW - ox);
      const o = out + ((<usize> (b * OH + oy) * <usize> OW + <usize> ox) * <usize> N) * 4;
      const m = mBuf + <usize> t * <usize> Np * 4;
      for (let n = 0; n < N; n += 4) {
        const q = m + <usize> n * 4;
        // Aᵀ M down each column j into tmp[r][j], then along each row r.
        for (let j = 0; j < 6; j++) {
          const qj = q + <usize> j * mPos;
          at6(
            v128.load(qj), v128.load(qj + 6 * mPos), v128.load(qj + 12 * mPos),
            v128.load(qj + 18 * mPos), v128.load(qj + 24 * mPos), v128.load(qj + 30 * mPos),
            tmp + <usize> j * 16,
            96,
          );
        }
        for (let r = 0; r < nr; r++) {
          const qr = tmp + <usize> r * 96;
          at6(
            v128.load(qr), v128.load(qr, 16), v128.load(qr, 32),
            v128.load(qr, 48), v128.load(qr, 64), v128.load(qr, 80),
            patch,
            16,
          );
          const bv = bias ? v128.load(bias + <usize> n * 4) : zero;
          const d = o + <usize> r * orow + <usize> n * 4;
          for (let c = 0; c < nc; c++) {
            let y = f32x4.add(v128.load(patch + <usize> c * 16), bv);
            if (act == 1) y = f32x4.max(y, zero);
            v128.store(d + <usize> c * opx, y);
          }
        }
      }
    }
  }
}
