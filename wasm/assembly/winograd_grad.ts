// Winograd F(2x2, 3x3) filter gradient: the adjoint of winograd_conv.ts.
// With M = U ⊙ V and y = Aᵀ M A, the gradient of U is (A dy Aᵀ) ⊙ V summed
// over tiles, and dg = Gᵀ dU G: the same 2.25x saving as the forward pass.

import { madd, NR } from "./gemm";
import { p32, splitRange } from "./params";
import { ld, roundUp, TB_GRAD, transformInputs } from "./winograd";

// A dy Aᵀ for one 2x2 tile of dy, four channels (the adjoint of the output
// transform): rows (a, a + c, a - c, -c) of the tile, then the same along
// each row. `mask` bit (i * 2 + j) is set for dy pixels inside the output.

@inline
function gradTile(
  dy: usize,
  rs: usize,
  cs: usize,
  mask: i32,
  v: usize,
  ps: usize,
): void {
  const z = f32x4.splat(0);
  const a = ld(dy, (mask & 1) != 0), b = ld(dy + cs, (mask & 2) != 0);
  const c = ld(dy + rs, (mask & 4) != 0), d = ld(dy + rs + cs, (mask & 8) != 0);
  // Row r of A dy: (p_r, q_r).
  const p1 = f32x4.add(a, c), q1 = f32x4.add(b, d);
  const p2 = f32x4.sub(a, c), q2 = f32x4.sub(b, d);
  const p3 = f32x4.sub(z, c), q3 = f32x4.sub(z, d);
  v128.store(v, a);
  v128.store(v + ps, f32x4.add(a, b));
  v128.store(v + 2 * ps, f32x4.sub(a, b));
  v128.store(v + 3 * ps, f32x4.sub(z, b));
  v128.store(v + 4 * ps, p1);
  v128.store(v + 5 * ps, f32x4.add(p1, q1));
  v128.store(v + 6 * ps, f32x4.sub(p1, q1));
  v128.store(v + 7 * ps, f32x4.sub(z, q1));
  v128.store(v + 8 * ps, p2);
  v128.store(v + 9 * ps, f32x4.add(p2, q2));
  v128.store(v + 10 * ps, f32x4.sub(p2, q2));
  v128.store(v + 11 * ps, f32x4.sub(z, q2));
  v128.store(v + 12 * ps, p3);
  v128.store(v + 13 * ps, f32x4.add(p3, q3));
  v128.store(v + 14 * ps, f32x4.sub(p3, q3));
  v128.store(v + 15 * ps, f32x4.sub(z, q3));
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
  const uPos = <usize> Kp * <usize> Np * 4;
  for (let pos = 0; pos < positions; pos++) {
    const a = v + <usize> pos * vPos;
    const b = g + <usize> pos * gPos;
    const c = dU + <usize> pos * uPos;
    for (let k = 0; k < Kp; k += 4) {
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

// Filter gradient of a stride-1 3x3 convolution, phase 1: each thread sums
// V ⊙ (A dy Aᵀ) over its output tiles into its own partial
// dU[pos][K][Np] (the adjoint of wino_conv, position by position).
// Params: B H W K OH OW padT padL x dy partials N scratch scratchPerThread.
export function wino_filter_grad(p: usize, tid: i32, nt: i32): void {
  const B = p32(p, 0), H = p32(p, 1), W = p32(p, 2), K = p32(p, 3);
  const OH = p32(p, 4), OW = p32(p, 5), padT = p32(p, 6), padL = p32(p, 7);
  const x = <usize> p32(p, 8), dy = <usize> p32(p, 9);
  const N = p32(p, 11);
  const scratch = <usize> p32(p, 12) + <usize> tid * <usize> p32(p, 13);
  const Np = roundUp(N, NR), Kp = roundUp(K, 4);
  const uPos = <usize> Kp * <usize> Np * 4;
  const part = <usize> p32(p, 10) + <usize> tid * 16 * uPos;
  memory.fill(part, 0, 16 * uPos);
  const tw = (OW + 1) >> 1, th = (OH + 1) >> 1;
  const T = B * th * tw;
  const r = splitRange(T, 1, tid, nt);
  const r0 = <i32> (r >> 32), r1 = <i32> r;
  const vBuf = scratch;
  const vPos = <usize> TB_GRAD * <usize> Kp * 4;
  const gBuf = vBuf + 16 * vPos;
  const gPos = <usize> TB_GRAD * <usize> Np * 4;
  const tmp = gBuf + 16 * gPos;
  const drs = <usize> OW * <usize> N * 4, dcs = <usize> N * 4;
  for (let t0 = r0; t0 < r1; t0 += TB_GRAD) {
    const tb = min(TB_GRAD, r1 - t0);
    transformInputs(x, H, W, K, padT, padL, tw, th, t0, tb, vBuf, vPos, tmp);
    for (let t = 0; t < tb; t++) {
      const tile = t0 + t;
      const tx = tile % tw, rest = tile / tw;
      const ty = rest % th, b = rest / th;
      const oy = ty * 2, ox = tx * 2;
      const gmask = 1 | (ox + 1 < OW ? 2 : 0) |
        (oy + 1 < OH ? 4 | (ox + 1 < OW ? 8 : 0) : 0);
      const dsrc = dy +
        ((<usize> (b * OH + oy) * <usize> OW + <usize> ox) * <usize> N) * 4;
      const gdst = gBuf + <usize> t * <usize> Np * 4;
      for (let n = 0; n < N; n += 4) {
        gradTile(
          dsrc + <usize> n * 4,
          drs,
          dcs,
          gmask,
          gdst + <usize> n * 4,
          gPos,
        );
      }
      // Padding columns of the last panel stay zero.
      for (let n = N; n < Np; n += 4) {
        for (let pos = 0; pos < 16; pos++) {
          v128.store(gdst + <usize> n * 4 + <usize> pos * gPos, f32x4.splat(0));
        }
      }
    }
    accumulatePositions(16, tb, Kp, Np, vBuf, vPos, gBuf, gPos, part);
  }
}

// Phase 2: dW[ky][kx][k][n] = (Gᵀ (Σ_t partial_t) G)[ky][kx], split over k.
// Params: as wino_filter_grad, then dW parts.
export function wino_filter_grad_reduce(p: usize, tid: i32, nt: i32): void {
  const K = p32(p, 3), N = p32(p, 11);
  const partials = <usize> p32(p, 10);
  const dW = <usize> p32(p, 14), parts = p32(p, 15);
  const Np = roundUp(N, NR), Kp = roundUp(K, 4);
  const uPos = <usize> Kp * <usize> Np * 4;
  const tap = <usize> K * <usize> N * 4;
  const per = (K + nt - 1) / nt;
  const k0 = tid * per, k1 = min(K, k0 + per);
  const half = f32x4.splat(0.5);
  for (let k = k0; k < k1; k++) {
    for (let n = 0; n < N; n += 4) {
      const base = partials + (<usize> k * <usize> Np + <usize> n) * 4;
      // Gᵀ U down each column c: (u0 + (u1 + u2)/2, (u1 - u2)/2, (u1 + u2)/2 + u3).
      const out = dW + (<usize> k * <usize> N + <usize> n) * 4;
      // q[i][c] for i in 0..2, c in 0..3, kept as 12 vectors.
      let q00 = f32x4.splat(0), q01 = q00, q02 = q00, q03 = q00;
      let q10 = q00, q11 = q00, q12 = q00, q13 = q00;
      let q20 = q00, q21 = q00, q22 = q00, q23 = q00;
      for (let c = 0; c < 4; c++) {
        let u0 = f32x4.splat(0), u1 = u0, u2 = u0, u3 = u0;
        for (let t = 0; t < parts; t++) {
          const q = base + <usize> t * 16 * uPos + <usize> c * uPos;
          u0 = f32x4.add(u0, v128.load(q));
          u1 = f32x4.add(u1, v128.load(q + 4 * uPos));
          u2 = f32x4.add(u2, v128.load(q + 8 * uPos));
          u3 = f32x4.add(u3, v128.load(q + 12 * uPos));
        }
        const s = f32x4.mul(f32x4.add(u1, u2), half);
        const r0 = f32x4.add(u0, s);
        const r1 = f32x4.mul(f32x4.sub(u1, u2), half);
        const r2 = f32x4.add(s, u3);
        if (c == 0) {
          q00 = r0;
          q10 = r1;
          q20 = r2;
        } else if (c == 1) {
          q01 = r0;
          q11 = r1;
          q21 = r2;
        } else if (c == 2) {
          q02 = r0;
          q12 = r1;
          q22 = r2;
        } else {
          q03 = r0;
          q13 = r1;
          q23 = r2;
        }
      }
      // (Gᵀ U) G along each row i.
      let s = f32x4.mul(f32x4.add(q01, q02), half);
      v128.store(out, f32x4.add(q00, s));
      v128.store(out + tap, f32x4.mul(f32x4.sub(q01, q02), half));
      v128.store(out + 2 * tap, f32x4.add(s, q03));
      s = f32x4.mul(f32x4.add(q11, q12), half);
      v128.store(out + 3 * tap, f32x4.add(q10, s));
      v128.store(out + 4 * tap, f32x4.mul(f32x4.sub(q11, q12), half));
      v128.store(out + 5 * tap, f32x4.add(s, q13));
      s = f32x4.mul(f32x4.add(q21, q22), half);
      v128.store(out + 6 * tap, f32x4.add(q20, s));
      v128.store(out + 7 * tap, f32x4.mul(f32x4.sub(q21, q22), half));
      v128.store(out + 8 * tap, f32x4.add(s, q23));
    }
  }
}
