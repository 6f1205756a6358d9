// Winograd F(4x4, 3x3) convolution, forward: out = act(conv3x3(x, g) + b).
//
// The filter transform (wino_filter) runs once per filter into packed GEMM
// panels. Then each thread takes blocks of TB_CONV output tiles: it
// transforms their 6x6 input patches (four channels per vector, since NHWC
// keeps channels contiguous), runs 36 small GEMMs [TB_CONV x Kp]·[Kp x Np],
// one per position of the transformed tile, and transforms the products
// back into 4x4 outputs with bias and relu fused. Every buffer of a block
// stays in the thread's scratch, so nothing the size of the batch is
// materialised.

import { madd, NR } from "./gemm";
import { p32, splitRange } from "./params";
import { WinoConv } from "./blocks";
import {
  blockScratch,
  filterPos,
  POS_SKEW,
  roundUp,
  transformInputs,
} from "./winograd";

// Output tiles per block; a block keeps 36 x TB_CONV x (Kp + Np) floats
// and 72 vectors of scratch (wino_conv_scratch below).
// Two 6-row micro-tiles: 6 and 12 tiles ran alike at 512x7x7x128->128
// (and 8 tiles had beaten 16 and 32 by 5-10% with the 4x8 tile); 12 streams
// the transformed filter half as often as 6.
export const TB_CONV: i32 = 12;

// Per-thread scratch bytes of wino_conv for K input and N output channels
// (called by the host, not by threads).
export function wino_conv_scratch(K: i32, N: i32): i32 {
  return blockScratch(TB_CONV, roundUp(K, 4), roundUp(N, NR));
}

// C[6 x 8] = A[6 x K] · panel[K x 8]: A rows `lda` bytes apart (the
// transformed tiles of one position), K a multiple of 4. Six rows keep
// twelve accumulators in flight, which hides the FMA latency better than
// gemm.ts' 4x8 (L1-resident micro-benchmark, K = 128: 48 against 45
// GFLOP/s; 512x7x7x128->128 input gradient, 1 thread: 62 -> 57 ms). Eight
// rows spill V8's 16 xmm registers (34 GFLOP/s). One k step per trip: the
// same tile unrolled by four k steps also spills.
@inline
export function tile6x8(
  K: i32,
  a: usize,
  lda: usize,
  b: usize,
  c: usize,
  ldc: usize,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  let c50 = f32x4.splat(0), c51 = f32x4.splat(0);
  const a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda;
  const a4 = a + 4 * lda, a5 = a + 5 * lda;
  for (let k: usize = 0; k < <usize> K * 4; k += 4) {
    const pb = b + k * 8;
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let v = v128.load32_splat(a + k);
    c00 = madd(v, b0, c00);
    c01 = madd(v, b1, c01);
    v = v128.load32_splat(a1 + k);
    c10 = madd(v, b0, c10);
    c11 = madd(v, b1, c11);
    v = v128.load32_splat(a2 + k);
    c20 = madd(v, b0, c20);
    c21 = madd(v, b1, c21);
    v = v128.load32_splat(a3 + k);
    c30 = madd(v, b0, c30);
    c31 = madd(v, b1, c31);
    v = v128.load32_splat(a4 + k);
    c40 = madd(v, b0, c40);
    c41 = madd(v, b1, c41);
    v = v128.load32_splat(a5 + k);
    c50 = madd(v, b0, c50);
    c51 = madd(v, b1, c51);
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

// The GEMMs of one block: m[pos][t][Np] = v[pos][t][Kp] · u[pos] for each
// of `positions` positions, six tiles by eight outputs at a time (tb is
// rounded up to 6; rows past it hold stale values that nothing reads).
export function positionGemms(
  positions: i32,
  tb: i32,
  Kp: i32,
  Np: i32,
  v: usize,
  vPos: usize,
  u: usize,
  m: usize,
  mPos: usize,
): void {
  const uPos = filterPos(Kp, Np);
  for (let pos = 0; pos < positions; pos++) {
    const a = v + <usize> pos * vPos;
    const bp = u + <usize> pos * uPos;
    const c = m + <usize> pos * mPos;
    for (let i = 0; i < tb; i += 6) {
      for (let j = 0; j < Np; j += NR) {
        tile6x8(
          Kp,
          a + <usize> i * <usize> Kp * 4,
          <usize> Kp * 4,
          bp + <usize> (j / NR) * <usize> Kp * (NR * 4),
          c + (<usize> i * <usize> Np + <usize> j) * 4,
          <usize> Np * 4,
        );
      }
    }
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

// out = act(conv3x3(x, g) + bias) with stride 1, through the transformed
// filter u of wino_filter. x is [B, H, W, K], out [B, OH, OW, N]; output
// pixel (oy, ox) reads inputs from (oy - padT, ox - padL). N is a multiple
// of 4. Threads split over 4-tile groups.
// Params: WinoConv (bias 0 = none; act 0 linear, 1 relu).
export function wino_conv(p: usize, tid: i32, nt: i32): void {
  const B = p32(p, WinoConv.B);
  const H = p32(p, WinoConv.H);
  const W = p32(p, WinoConv.W);
  const K = p32(p, WinoConv.K);
  const OH = p32(p, WinoConv.OH);
  const OW = p32(p, WinoConv.OW);
  const padT = p32(p, WinoConv.padT);
  const padL = p32(p, WinoConv.padL);
  const x = <usize> p32(p, WinoConv.x);
  const u = <usize> p32(p, WinoConv.u);
  const out = <usize> p32(p, WinoConv.out);
  const N = p32(p, WinoConv.N);
  const bias = <usize> p32(p, WinoConv.bias);
  const act = p32(p, WinoConv.act);
  const scratch = <usize> p32(p, WinoConv.scratch) +
    <usize> tid * <usize> p32(p, WinoConv.scratchStride);
  const Np = roundUp(N, NR), Kp = roundUp(K, 4);
  const tw = (OW + 3) >> 2, th = (OH + 3) >> 2;
  const T = B * th * tw;
  const r = splitRange(T, 6, tid, nt);
  const r0 = <i32> (r >> 32), r1 = <i32> r;
  const vPos = <usize> TB_CONV * <usize> Kp * 4 + POS_SKEW;
  const mPos = <usize> TB_CONV * <usize> Np * 4 + POS_SKEW;
  const vBuf = scratch;
  const mBuf = vBuf + 36 * vPos;
  const tmp = mBuf + 36 * mPos; // 72 vectors
  const patch = tmp + 576;
  const orow = <usize> OW * <usize> N * 4, opx = <usize> N * 4;
  const zero = f32x4.splat(0);
  for (let t0 = r0; t0 < r1; t0 += TB_CONV) {
    const tb = min(TB_CONV, r1 - t0);
    transformInputs(x, H, W, K, padT, padL, tw, th, t0, tb, vBuf, vPos, tmp);
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
