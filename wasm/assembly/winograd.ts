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

// Filter transform into panels u[pos][n / NR][k][NR], zero-padded in n.
// flip = 0: g[ky][kx][k][n] = w[ky][kx][k][n] (w is [3][3][K][N]).
// flip = 1: g[ky][kx][k][n] = w[2 - ky][2 - kx][n][k] (w is [3][3][N][K]),
// the filter of the input gradient. Rows k in [K, Kp) of the panels (Kp is
// K rounded up to 4) are zero. Threads split over k.
// Params: K N w u flip.
export function wino_filter(p: usize, tid: i32, nt: i32): void {
  const K = p32(p, 0), N = p32(p, 1);
  const w = <usize> p32(p, 2), u = <usize> p32(p, 3), flip = p32(p, 4);
  const Np = roundUp(N, NR), Kp = roundUp(K, 4);
  const posStride = <usize> (Np / NR) * <usize> Kp * <usize> (NR * 4);
  const per = (Kp + nt - 1) / nt;
  const k0 = tid * per, k1 = min(Kp, k0 + per);
  // Element stride of a tap (ky, kx) and of n, and the offset of tap 0.
  const tapStride: isize = flip
    ? -(<isize> N * <isize> K)
    : <isize> K * <isize> N;
  for (let k = k0; k < k1; k++) {
    for (let n = 0; n < Np; n++) {
      const dst = u + <usize> (n / NR) * <usize> Kp * <usize> (NR * 4) +
        <usize> k * <usize> (NR * 4) + <usize> (n % NR) * 4;
      if (n >= N || k >= K) {
        for (let pos = 0; pos < 16; pos++) {
          store<f32>(dst + <usize> pos * posStride, 0);
        }
        continue;
      }
      const base: isize = flip
        ? (8 * <isize> N + <isize> n) * <isize> K + <isize> k
        : <isize> k * <isize> N + <isize> n;
      const src = <isize> w + base * 4;
      const s = tapStride * 4;
      // G g, one column (kx) at a time: (g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2)
      // over rows ky; then the same along each resulting row.
      for (let kx = 0; kx < 3; kx++) {
        const a = load<f32>(<usize> (src + <isize> kx * s));
        const b = load<f32>(<usize> (src + <isize> (3 + kx) * s));
        const d = load<f32>(<usize> (src + <isize> (6 + kx) * s));
        // Rows of G g for column kx, kept in scratch-free form: write them
        // to the u slots of column kx (pos r*4 + kx) and fix up below.
        store<f32>(dst + <usize> kx * posStride, a);
        store<f32>(dst + <usize> (4 + kx) * posStride, (a + b + d) * 0.5);
        store<f32>(dst + <usize> (8 + kx) * posStride, (a - b + d) * 0.5);
        store<f32>(dst + <usize> (12 + kx) * posStride, d);
      }
      for (let r = 0; r < 4; r++) {
        const row = dst + <usize> (r * 4) * posStride;
        const a = load<f32>(row), b = load<f32>(row + posStride);
        const d = load<f32>(row + 2 * posStride);
        store<f32>(row, a);
        store<f32>(row + posStride, (a + b + d) * 0.5);
        store<f32>(row + 2 * posStride, (a - b + d) * 0.5);
        store<f32>(row + 3 * posStride, d);
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
