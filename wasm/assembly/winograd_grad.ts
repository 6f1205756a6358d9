// Winograd F(4x4, 3x3) filter gradient: the adjoint of winograd_conv.ts.
// With M = U ⊙ V and y = Aᵀ M A over 6x6 transformed tiles, the gradient
// of U is (A dy Aᵀ) ⊙ V summed over tiles, and dg = Gᵀ dU G. Summing a few
// thousand tiles in float32 stays within about 3e-6 of a float64 reference.

import { madd, NR } from "./gemm";
import { p32, splitRange } from "./params";
import { WinoFilterGrad } from "./blocks";
import {
  blockScratch,
  ldm,
  POS_SKEW,
  roundUp,
  transformInputs,
} from "./winograd";

// Output tiles per block: 36 positions x TB_GRAD x (Kp + Np) floats and 72
// vectors of scratch. Longer blocks amortise loading and storing the
// accumulators: 32 against 16 took 3-8% off every filter gradient of both
// networks, 1 and 2 threads (fastest of four alternated rounds on a noisy
// day, EPYC AVX-512: 512x7x7x128->128 1 thread 62.5 -> 59.1 ms, 2 threads
// 33.8 -> 31.1; 64x32x32x32->32 2 threads 6.11 -> 5.90); 48 was no better.
export const TB_GRAD: i32 = 32;

// Per-thread scratch bytes of wino_filter_grad for K input and N output
// channels, and the bytes of one thread's partial dU (host-called).
export function wino_grad_scratch(K: i32, N: i32): i32 {
  return blockScratch(TB_GRAD, roundUp(K, 4), roundUp(N, NR));
}

export function wino_grad_partial(K: i32, N: i32): i32 {
  return 36 * <i32> dUPos(roundUp(K, 4), roundUp(N, NR));
}

// C[4 x 8] += Σ_t A[t][0:4] ⊗ B[t][0:8] over `tb` rows: A rows `lda` bytes
// apart, B rows `ldb` bytes apart; C rows `ldc` bytes apart.

@inline
function outer4x8(
  tb: i32,
  a: usize,
  lda: usize,
  b: usize,
  ldb: usize,
  c: usize,
  ldc: usize,
): void {
  let c00 = v128.load(c), c01 = v128.load(c, 16);
  let c10 = v128.load(c + ldc), c11 = v128.load(c + ldc, 16);
  let c20 = v128.load(c + 2 * ldc), c21 = v128.load(c + 2 * ldc, 16);
  let c30 = v128.load(c + 3 * ldc), c31 = v128.load(c + 3 * ldc, 16);
  for (let t = 0; t < tb; t++) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    let v = v128.load32_splat(a);
    c00 = madd(v, b0, c00);
    c01 = madd(v, b1, c01);
    v = v128.load32_splat(a, 4);
    c10 = madd(v, b0, c10);
    c11 = madd(v, b1, c11);
    v = v128.load32_splat(a, 8);
    c20 = madd(v, b0, c20);
    c21 = madd(v, b1, c21);
    v = v128.load32_splat(a, 12);
    c30 = madd(v, b0, c30);
    c31 = madd(v, b1, c31);
    a += lda;
    b += ldb;
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c + ldc, c10);
  v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20);
  v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30);
  v128.store(c + 3 * ldc, c31, 16);
}

// outer4x8 with six rows of C: twelve accumulators hide the FMA latency
// better than eight, as tile6x8 in winograd_conv.ts.
@inline
function outer6x8(
  tb: i32,
  a: usize,
  lda: usize,
  b: usize,
  ldb: usize,
  c: usize,
  ldc: usize,
): void {
  let c00 = v128.load(c), c01 = v128.load(c, 16);
  let c10 = v128.load(c + ldc), c11 = v128.load(c + ldc, 16);
  let c20 = v128.load(c + 2 * ldc), c21 = v128.load(c + 2 * ldc, 16);
  let c30 = v128.load(c + 3 * ldc), c31 = v128.load(c + 3 * ldc, 16);
  let c40 = v128.load(c + 4 * ldc), c41 = v128.load(c + 4 * ldc, 16);
  let c50 = v128.load(c + 5 * ldc), c51 = v128.load(c + 5 * ldc, 16);
  for (let t = 0; t < tb; t++) {
    const b0 = v128.load(b), b1 = v128.load(b, 16);
    let v = v128.load32_splat(a);
    c00 = madd(v, b0, c00);
    c01 = madd(v, b1, c01);
    v = v128.load32_splat(a, 4);
    c10 = madd(v, b0, c10);
    c11 = madd(v, b1, c11);
    v = v128.load32_splat(a, 8);
    c20 = madd(v, b0, c20);
    c21 = madd(v, b1, c21);
    v = v128.load32_splat(a, 12);
    c30 = madd(v, b0, c30);
    c31 = madd(v, b1, c31);
    v = v128.load32_splat(a, 16);
    c40 = madd(v, b0, c40);
    c41 = madd(v, b1, c41);
    v = v128.load32_splat(a, 20);
    c50 = madd(v, b0, c50);
    c51 = madd(v, b1, c51);
    a += lda;
    b += ldb;
  }
  v128.store(c, c00);
  v128.store(c, c01, 16);
  v128.store(c + ldc, c10);
  v128.store(c + ldc, c11, 16);
  v128.store(c + 2 * ldc, c20);
  v128.store(c + 2 * ldc, c21, 16);
  v128.store(c + 3 * ldc, c30);
  v128.store(c + 3 * ldc, c31, 16);
  v128.store(c + 4 * ldc, c40);
  v128.store(c + 4 * ldc, c41, 16);
  v128.store(c + 5 * ldc, c50);
  v128.store(c + 5 * ldc, c51, 16);
}

// Bytes from one position of a per-thread partial dU[36][Kp][Np] to the
// next (skewed, as the block buffers are).
@inline
function dUPos(Kp: i32, Np: i32): usize {
  return <usize> Kp * <usize> Np * 4 + POS_SKEW;
}

// dU[pos] += v[pos]ᵀ · g[pos] over the tb tiles of a block, for each of
// `positions` positions: v[pos] is [tb][Kp], g[pos] is [tb][Np], dU[pos]
// is [Kp][Np].
export function accumulatePositions(
  positions: i32,
  tb: i32,
  Kp: i32,
  Np: i32,
  v: usize,
  vPos: usize,
  g: usize,
  gPos: usize,
  dU: usize,
): void {
  const uPos = dUPos(Kp, Np);
  for (let pos = 0; pos < positions; pos++) {
    const a = v + <usize> pos * vPos;
    const b = g + <usize> pos * gPos;
    const c = dU + <usize> pos * uPos;
    // Rows of dU in sixes up to the last multiple of 12, the rest (0, 4 or
    // 8, since Kp is a multiple of 4) in fours.
    const k6 = Kp - Kp % 12;
    let k = 0;
    for (; k < k6; k += 6) {
      for (let j = 0; j < Np; j += NR) {
        outer6x8(
          tb,
          a + <usize> k * 4,
          <usize> Kp * 4,
          b + <usize> j * 4,
          <usize> Np * 4,
          c + (<usize> k * <usize> Np + <usize> j) * 4,
          <usize> Np * 4,
        );
      }
    }
    for (; k < Kp; k += 4) {
      for (let j = 0; j < Np; j += NR) {
        outer4x8(
          tb,
          a + <usize> k * 4,
          <usize> Kp * 4,
          b + <usize> j * 4,
          <usize> Np * 4,
          c + (<usize> k * <usize> Np + <usize> j) * 4,
          <usize> Np * 4,
        );
      }
    }
  }
}

// A applied to four vectors along one axis (the adjoint of Aᵀ), written to
// dst + i * s for i in 0..5.
@inline
function a6(q0: v128, q1: v128, q2: v128, q3: v128, dst: usize, s: usize): void {
  const two = f32x4.splat(2), four = f32x4.splat(4), eight = f32x4.splat(8);
  const e = f32x4.add(q0, q2), o = f32x4.add(q1, q3);
  const e2 = f32x4.add(q0, f32x4.mul(q2, four));
  const o2 = f32x4.add(f32x4.mul(q1, two), f32x4.mul(q3, eight));
  v128.store(dst, q0);
  v128.store(dst + s, f32x4.add(e, o));
  v128.store(dst + 2 * s, f32x4.sub(e, o));
  v128.store(dst + 3 * s, f32x4.add(e2, o2));
  v128.store(dst + 4 * s, f32x4.sub(e2, o2));
  v128.store(dst + 5 * s, q3);
}

// Gᵀ applied to six vectors along one axis, written to dst + i * s for i in
// 0..2.
@inline
function gt3(u0: v128, u1: v128, u2: v128, u3: v128, u4: v128, u5: v128, dst: usize, s: usize): void {
  const s12 = f32x4.add(u1, u2), d12 = f32x4.sub(u1, u2);
  const s34 = f32x4.add(u3, u4), d34 = f32x4.sub(u3, u4);
  const sixth = f32x4.splat(1.0 / 6.0);
  v128.store(dst, f32x4.add(
    f32x4.sub(f32x4.mul(u0, f32x4.splat(0.25)), f32x4.mul(s12, sixth)),
    f32x4.mul(s34, f32x4.splat(1.0 / 24.0)),
  ));
  v128.store(dst + s, f32x4.sub(
    f32x4.mul(d34, f32x4.splat(1.0 / 12.0)),
    f32x4.mul(d12, sixth),
  ));
  v128.store(dst + 2 * s, f32x4.add(
    f32x4.mul(f32x4.sub(s34, s12), sixth),
    u5,
  ));
}

// Phase 1: each thread sums V ⊙ (A dy Aᵀ) over its output tiles into its
// own partial dU[36][Kp][Np] (the adjoint of wino_conv, position by
// position).
// Params: WinoFilterGrad.
export function wino_filter_grad(p: usize, tid: i32, nt: i32): void {
  const B = p32(p, WinoFilterGrad.B);
  const H = p32(p, WinoFilterGrad.H);
  const W = p32(p, WinoFilterGrad.W);
  const K = p32(p, WinoFilterGrad.K);
  const OH = p32(p, WinoFilterGrad.OH);
  const OW = p32(p, WinoFilterGrad.OW);
  const padT = p32(p, WinoFilterGrad.padT);
  const padL = p32(p, WinoFilterGrad.padL);
  const x = <usize> p32(p, WinoFilterGrad.x);
  const dy = <usize> p32(p, WinoFilterGrad.dy);
  const N = p32(p, WinoFilterGrad.N);
  const scratch = <usize> p32(p, WinoFilterGrad.scratch) +
    <usize> tid * <usize> p32(p, WinoFilterGrad.scratchStride);
  const Np = roundUp(N, NR), Kp = roundUp(K, 4);
  const uPos = dUPos(Kp, Np);
  const part = <usize> p32(p, WinoFilterGrad.partials) +
    <usize> tid * 36 * uPos;
  memory.fill(part, 0, 36 * uPos);
  const tw = (OW + 3) >> 2, th = (OH + 3) >> 2;
  const T = B * th * tw;
  const r = splitRange(T, 1, tid, nt);
  const r0 = <i32> (r >> 32), r1 = <i32> r;
  const vPos = <usize> TB_GRAD * <usize> Kp * 4 + POS_SKEW;
  const gPos = <usize> TB_GRAD * <usize> Np * 4 + POS_SKEW;
  const vBuf = scratch;
  const gBuf = vBuf + 36 * vPos;
  const tmp = gBuf + 36 * gPos; // 72 vectors
  const drs = <usize> OW * <usize> N * 4, dcs = <usize> N * 4;
  const zero = f32x4.splat(0);
  for (let t0 = r0; t0 < r1; t0 += TB_GRAD) {
    const tb = min(TB_GRAD, r1 - t0);
    transformInputs(x, H, W, K, padT, padL, tw, th, t0, tb, vBuf, vPos, tmp);
    for (let t = 0; t < tb; t++) {
      const tile = t0 + t;
      const tx = tile % tw, rest = tile / tw;
      const ty = rest % th, b = rest / th;
      const oy = ty * 4, ox = tx * 4;
      const nr = min(4, OH - oy), nc = min(4, OW - ox);
      const src = dy + ((<usize> (b * OH + oy) * <usize> OW + <usize> ox) * <usize> N) * 4;
      const dst = gBuf + <usize> t * <usize> Np * 4;
      for (let n = 0; n < N; n += 4) {
        // A dy down each dy column j into tmp[r][j], then along each row r.
        for (let j = 0; j < 4; j++) {
          const q = src + <usize> j * dcs + <usize> n * 4;
          const on = j < nc;
          a6(
            ldm(q, on),
            ldm(q + drs, on && nr > 1),
            ldm(q + 2 * drs, on && nr > 2),
            ldm(q + 3 * drs, on && nr > 3),
            tmp + <usize> j * 16,
            64,
          );
        }
        for (let i = 0; i < 6; i++) {
          const q = tmp + <usize> i * 64;
          a6(
            v128.load(q), v128.load(q, 16), v128.load(q, 32), v128.load(q, 48),
            dst + <usize> (i * 6) * gPos + <usize> n * 4,
            gPos,
          );
        }
      }
      for (let n = N; n < Np; n += 4) {
        for (let pos = 0; pos < 36; pos++) {
          v128.store(dst + <usize> n * 4 + <usize> pos * gPos, zero);
        }
      }
    }
    accumulatePositions(36, tb, Kp, Np, vBuf, vPos, gBuf, gPos, part);
  }
}

// Phase 2: dW[ky][kx][k][n] = (Gᵀ (Σ_t partial_t) G)[ky][kx], split over k.
// Uses the thread's scratch for 54 vectors. Params: WinoFilterGrad, as
// phase 1.
export function wino_filter_grad_reduce(p: usize, tid: i32, nt: i32): void {
  const K = p32(p, WinoFilterGrad.K), N = p32(p, WinoFilterGrad.N);
  const partials = <usize> p32(p, WinoFilterGrad.partials);
  const tmp = <usize> p32(p, WinoFilterGrad.scratch) +
    <usize> tid * <usize> p32(p, WinoFilterGrad.scratchStride);
  const dW = <usize> p32(p, WinoFilterGrad.dW);
  const parts = p32(p, WinoFilterGrad.parts);
  const Np = roundUp(N, NR), Kp = roundUp(K, 4);
  const uPos = dUPos(Kp, Np);
  const tap = <usize> K * <usize> N * 4;
  const per = (K + nt - 1) / nt;
  const k0 = tid * per, k1 = min(K, k0 + per);
  for (let k = k0; k < k1; k++) {
    for (let n = 0; n < N; n += 4) {
      const base = partials + (<usize> k * <usize> Np + <usize> n) * 4;
      // Σ_t partial_t into tmp[pos].
      for (let pos = 0; pos < 36; pos++) {
        let acc = f32x4.splat(0);
        for (let t = 0; t < parts; t++) {
          acc = f32x4.add(acc, v128.load(base + (<usize> t * 36 + <usize> pos) * uPos));
        }
        v128.store(tmp + <usize> pos * 16, acc);
      }
      // Gᵀ U down each column c into tmp2[i][c], then along each row i.
      const tmp2 = tmp + 576;
      for (let c = 0; c < 6; c++) {
        const q = tmp + <usize> c * 16;
        gt3(
          v128.load(q), v128.load(q, 96), v128.load(q, 192),
          v128.load(q, 288), v128.load(q, 384), v128.load(q, 480),
          tmp2 + <usize> c * 16,
          96,
        );
      }
      const out = dW + (<usize> k * <usize> N + <usize> n) * 4;
      for (let i = 0; i < 3; i++) {
        const q = tmp2 + <usize> i * 96;
        gt3(
          v128.load(q), v128.load(q, 16), v128.load(q, 32),
          v128.load(q, 48), v128.load(q, 64), v128.load(q, 80),
          out + <usize> (i * 3) * tap,
          tap,
        );
      }
    }
  }
}
