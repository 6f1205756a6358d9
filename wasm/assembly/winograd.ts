// Winograd F(2x2, 3x3), shared parts: the filter and input transforms.
//
// F(2x2, 3x3) computes each 2x2 block of outputs of a stride-1 3x3
// convolution with 16 multiplies per channel pair instead of 36:
//
//   Y = Aᵀ [ Σ_k (G g_k,n Gᵀ) ⊙ (Bᵀ d_k B) ] A
//
// The transforms only add, subtract and halve, so results differ from a
// direct convolution by a few ulps of the partial sums. The forward pass is
// in winograd_conv.ts, the filter gradient in winograd_grad.ts; the input
// gradient is a forward pass with the flipped, transposed filter.

import { NR } from "./gemm";
import { p32 } from "./params";

// Output tiles per block: a block needs 16 positions x TB x (Kp + Np) floats
// of scratch, plus 16 vectors (see winogradScratch in src/kernels/ops.ts).
// The forward pass keeps a block in L1 (measured at batch 256: 8 tiles beat
// 16 and 32 by 5-10%); the filter gradient reduces over tiles, and longer
// reductions amortise loading and storing its accumulators.
export const TB_CONV: i32 = 8;
export const TB_GRAD: i32 = 32;

export function roundUp(n: i32, m: i32): i32 {
  return (n + m - 1) / m * m;
}

// G g for three taps (a, b, c) along one axis, written to dst + i * s:
// four values for F(2x2, 3x3) (points 0, ±1, ∞), six for F(4x4, 3x3)
// (points 0, ±1, ±2, ∞).
@inline
function g4(a: f32, b: f32, c: f32, dst: usize, s: usize): void {
  store<f32>(dst, a);
  store<f32>(dst + s, (a + b + c) * 0.5);
  store<f32>(dst + 2 * s, (a - b + c) * 0.5);
  store<f32>(dst + 3 * s, c);
}

@inline
function g6(a: f32, b: f32, c: f32, dst: usize, s: usize): void {
  store<f32>(dst, a * 0.25);
  store<f32>(dst + s, (a + b + c) * (-1.0 / 6.0));
  store<f32>(dst + 2 * s, (a - b + c) * (-1.0 / 6.0));
  store<f32>(dst + 3 * s, a * (1.0 / 24.0) + b * (1.0 / 12.0) + c * (1.0 / 6.0));
  store<f32>(dst + 4 * s, a * (1.0 / 24.0) - b * (1.0 / 12.0) + c * (1.0 / 6.0));
  store<f32>(dst + 5 * s, c);
}

// Filter transform U = G g Gᵀ into panels u[pos][n / NR][k][NR] for the
// size x size positions of F(2x2, 3x3) (size 4) or F(4x4, 3x3) (size 6),
// zero-padded in n up to Np and in k up to Kp (K rounded up to 4).
// flip = 0: g[ky][kx][k][n] = w[ky][kx][k][n] (w is [3][3][K][N]).
// flip = 1: g[ky][kx][k][n] = w[2 - ky][2 - kx][n][k] (w is [3][3][N][K]),
// the filter of the input gradient. Threads split over k.
// Params: K N w u flip size.
export function wino_filter(p: usize, tid: i32, nt: i32): void {
  const K = p32(p, 0), N = p32(p, 1);
  const w = <usize> p32(p, 2), u = <usize> p32(p, 3), flip = p32(p, 4);
  const size = p32(p, 5);
  const Np = roundUp(N, NR), Kp = roundUp(K, 4);
  const ps = <usize> (Np / NR) * <usize> Kp * <usize> (NR * 4);
  const per = (Kp + nt - 1) / nt;
  const k0 = tid * per, k1 = min(Kp, k0 + per);
  // Byte step from one tap (ky, kx) to the next in w.
  const s: isize = (flip ? -(<isize> N * <isize> K) : <isize> K * <isize> N) * 4;
  for (let k = k0; k < k1; k++) {
    for (let n = 0; n < Np; n++) {
      const dst = u + <usize> (n / NR) * <usize> Kp * <usize> (NR * 4) +
        <usize> k * <usize> (NR * 4) + <usize> (n % NR) * 4;
      if (n >= N || k >= K) {
        for (let pos = 0; pos < size * size; pos++) {
          store<f32>(dst + <usize> pos * ps, 0);
        }
        continue;
      }
      const base: isize = flip
        ? (8 * <isize> N + <isize> n) * <isize> K + <isize> k
        : <isize> k * <isize> N + <isize> n;
      const src = <isize> w + base * 4;
      // Down each filter column kx into the slots (r, kx), then along each
      // row r in place (its three inputs are read before any is written).
      for (let kx = 0; kx < 3; kx++) {
        const a = load<f32>(<usize> (src + <isize> kx * s));
        const b = load<f32>(<usize> (src + <isize> (3 + kx) * s));
        const c = load<f32>(<usize> (src + <isize> (6 + kx) * s));
        const col = dst + <usize> kx * ps;
        if (size == 4) g4(a, b, c, col, 4 * ps);
        else g6(a, b, c, col, 6 * ps);
      }
      for (let r = 0; r < size; r++) {
        const row = dst + <usize> (r * size) * ps;
        const a = load<f32>(row), b = load<f32>(row + ps);
        const c = load<f32>(row + 2 * ps);
        if (size == 4) g4(a, b, c, row, ps);
        else g6(a, b, c, row, ps);
      }
    }
  }
}

@inline
export function ld(p: usize, on: bool): v128 {
  return on ? v128.load(p) : f32x4.splat(0);
}

// V = Bᵀ d B for one 4x4 patch of four channels, written to v[pos * posStride].
// `x` addresses patch pixel (0, 0), possibly outside the image; bit
// (i * 4 + j) of `mask` is set when pixel (i, j) is inside.
@inline
function inputTile(
  x: usize,
  rs: usize,
  cs: usize,
  mask: i32,
  v: usize,
  ps: usize,
): void {
  // d B along each row i: (d0 - d2, d1 + d2, d2 - d1, d1 - d3).
  let d0 = ld(x, (mask & 1) != 0), d1 = ld(x + cs, (mask & 2) != 0);
  let d2 = ld(x + 2 * cs, (mask & 4) != 0),
    d3 = ld(x + 3 * cs, (mask & 8) != 0);
  const e00 = f32x4.sub(d0, d2), e01 = f32x4.add(d1, d2);
  const e02 = f32x4.sub(d2, d1), e03 = f32x4.sub(d1, d3);
  x += rs;
  d0 = ld(x, (mask & 16) != 0);
  d1 = ld(x + cs, (mask & 32) != 0);
  d2 = ld(x + 2 * cs, (mask & 64) != 0);
  d3 = ld(x + 3 * cs, (mask & 128) != 0);
  const e10 = f32x4.sub(d0, d2), e11 = f32x4.add(d1, d2);
  const e12 = f32x4.sub(d2, d1), e13 = f32x4.sub(d1, d3);
  x += rs;
  d0 = ld(x, (mask & 256) != 0);
  d1 = ld(x + cs, (mask & 512) != 0);
  d2 = ld(x + 2 * cs, (mask & 1024) != 0);
  d3 = ld(x + 3 * cs, (mask & 2048) != 0);
  const e20 = f32x4.sub(d0, d2), e21 = f32x4.add(d1, d2);
  const e22 = f32x4.sub(d2, d1), e23 = f32x4.sub(d1, d3);
  x += rs;
  d0 = ld(x, (mask & 4096) != 0);
  d1 = ld(x + cs, (mask & 8192) != 0);
  d2 = ld(x + 2 * cs, (mask & 16384) != 0);
  d3 = ld(x + 3 * cs, (mask & 32768) != 0);
  const e30 = f32x4.sub(d0, d2), e31 = f32x4.add(d1, d2);
  const e32 = f32x4.sub(d2, d1), e33 = f32x4.sub(d1, d3);
  // Bᵀ (d B) down each column c: (e0 - e2, e1 + e2, e2 - e1, e1 - e3).
  v128.store(v, f32x4.sub(e00, e20));
  v128.store(v + ps, f32x4.sub(e01, e21));
  v128.store(v + 2 * ps, f32x4.sub(e02, e22));
  v128.store(v + 3 * ps, f32x4.sub(e03, e23));
  v128.store(v + 4 * ps, f32x4.add(e10, e20));
  v128.store(v + 5 * ps, f32x4.add(e11, e21));
  v128.store(v + 6 * ps, f32x4.add(e12, e22));
  v128.store(v + 7 * ps, f32x4.add(e13, e23));
  v128.store(v + 8 * ps, f32x4.sub(e20, e10));
  v128.store(v + 9 * ps, f32x4.sub(e21, e11));
  v128.store(v + 10 * ps, f32x4.sub(e22, e12));
  v128.store(v + 11 * ps, f32x4.sub(e23, e13));
  v128.store(v + 12 * ps, f32x4.sub(e10, e30));
  v128.store(v + 13 * ps, f32x4.sub(e11, e31));
  v128.store(v + 14 * ps, f32x4.sub(e12, e32));
  v128.store(v + 15 * ps, f32x4.sub(e13, e33));
}

// The 4x4 mask of patch pixels inside the image, for a patch at (y0, x0).
export function patchMask(y0: i32, x0: i32, H: i32, W: i32): i32 {
  let cols = 0;
  for (let j = 0; j < 4; j++) if (x0 + j >= 0 && x0 + j < W) cols |= 1 << j;
  let mask = 0;
  for (let i = 0; i < 4; i++) {
    if (y0 + i >= 0 && y0 + i < H) mask |= cols << (i * 4);
  }
  return mask;
}

// Transforms the input patches of output tiles [t0, t0 + tb) into
// v[pos][t][Kp]. A last group of fewer than four channels is copied through
// `tmp` (16 vectors) with the missing lanes zeroed, so the lane that belongs
// to the next pixel never enters the sums.
export function transformInputs(
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
  const Kp = roundUp(K, 4), K4 = K & ~3;
  const rs = <usize> W * <usize> K * 4, cs = <usize> K * 4;
  const tail = K - K4;
  const lanes = i32x4(
    -1,
    tail > 1 ? -1 : 0,
    tail > 2 ? -1 : 0,
    0,
  );
  for (let t = 0; t < tb; t++) {
    const tile = t0 + t;
    const tx = tile % tw, rest = tile / tw;
    const ty = rest % th, b = rest / th;
    const y0 = ty * 2 - padT, x0 = tx * 2 - padL;
    const mask = patchMask(y0, x0, H, W);
    const src = <usize> (<isize> x +
      ((<isize> b * <isize> H + <isize> y0) * <isize> W + <isize> x0) *
        <isize> K * 4);
    const dst = v + <usize> t * <usize> Kp * 4;
    for (let c = 0; c < K4; c += 4) {
      inputTile(src + <usize> c * 4, rs, cs, mask, dst + <usize> c * 4, vPos);
    }
    if (tail) {
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 4; j++) {
          const bit = (mask >> (i * 4 + j)) & 1;
          const q = src + <usize> i * rs + <usize> j * cs + <usize> K4 * 4;
          v128.store(
            tmp + <usize> ((i * 4 + j) * 16),
            bit ? v128.and(v128.load(q), lanes) : f32x4.splat(0),
          );
        }
      }
      inputTile(tmp, 64, 16, 0xffff, dst + <usize> K4 * 4, vPos);
    }
  }
}
