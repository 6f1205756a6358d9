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

import { NR, tile6x8 } from "./gemm";
import { claim, p32 } from "./params";
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
          false,
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
// of 4. Threads take blocks of TB_CONV tiles as they go (params.ts, claim):
// each tile is computed by one block, the same bits on any thread count.
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
  const vPos = <usize> TB_CONV * <usize> Kp * 4 + POS_SKEW;
  const mPos = <usize> TB_CONV * <usize> Np * 4 + POS_SKEW;
  const vBuf = scratch;
  const mBuf = vBuf + 36 * vPos;
  const tmp = mBuf + 36 * mPos; // 72 vectors
  const patch = tmp + 576;
  const orow = <usize> OW * <usize> N * 4, opx = <usize> N * 4;
  const zero = f32x4.splat(0);
  for (let t0 = claim(p, TB_CONV); t0 < T; t0 = claim(p, TB_CONV)) {
    const tb = min(TB_CONV, T - t0);
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
