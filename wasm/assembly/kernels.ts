// simdnet's training kernels, entry points called by every thread of the pool.
//
// Each export takes (params, tid, nt): `params` points to a parameter block
// in the shared heap written by the host, `tid` is this thread's index and
// `nt` the number of threads. Blocks are declared in src/kernels/<family>.ts
// and their word offsets generated into ./blocks.ts. A thread only ever
// writes its own share of the output (or its own partial buffer), so no
// locks are needed.

import {
  KC,
  macroBlock,
  MR,
  MR6,
  NR,
  packAStrided,
  packBStrided,
  packRows6,
  tile6x8,
} from "./gemm";
import { packAConv, packBConv } from "./conv_pack";
import { f32At, lineUp, p32, splitRange } from "./params";
import {
  BiasAct,
  ColSum,
  ConvFilterGrad,
  ConvGemm,
  FlipFilter,
  Geom,
  MatMul,
} from "./blocks";

export { wino_filter, wino_filter_bytes } from "./winograd";
export { wino_conv, wino_conv_scratch } from "./winograd_conv";
export {
  wino_filter_grad,
  wino_filter_grad_reduce,
  wino_grad_partial,
  wino_grad_scratch,
} from "./winograd_grad";
export { adam_update } from "./adam";
export { dropout_mask } from "./dropout";
export { max_pool, maxpool_grad } from "./max_pool";
export { conv_direct, conv_direct_scratch } from "./conv_direct";
export { relu_grad } from "./relu_grad";
export { tile } from "./tile";
export { gelu_grad, unary } from "./unary";
export { binary } from "./binary";
export { reduce_rows } from "./reduce_rows";
export { avg_pool, avgpool_grad } from "./avg_pool";
export { batch_norm } from "./batch_norm";
export {
  bn_grad_dx,
  bn_grad_reduce,
  bn_grad_sums,
  bn_stats,
  bn_stats_reduce,
} from "./batch_norm_train";
export {
  depthwise_conv,
  depthwise_filter_grad,
  depthwise_filter_reduce,
  depthwise_input_grad,
} from "./depthwise";

const NC: i32 = 512;
// Rows of A per packed block of a matrix product (16 panels of six, 96 KiB
// at KC = 256: L2 on any CPU with SIMD128).
const MC: i32 = 96;
// The 6x8 tile scratch that starts every GEMM scratch (a 4x8 tile's too).
const GEMM_TMP: i32 = 256;

// Scratch of one thread: [tmp tile | A panel(s) | B block] (gemm_scratch),
// from the block's scratch base and per-thread stride words.
function scratchOf(p: usize, base: i32, stride: i32, tid: i32): usize {
  return <usize> p32(p, base) + <usize> tid * <usize> p32(p, stride);
}


function zeroRows(c: usize, rows: i32, ldc: i32, n0: i32, n1: i32): void {
  for (let i = 0; i < rows; i++) {
    memory.fill(
      c + (<usize> i * <usize> ldc + <usize> n0) * 4,
      0,
      <usize> (n1 - n0) * 4,
    );
  }
}

function gemmRange(
  K: i32,
  a: usize,
  rsA: i32,
  csA: i32,
  b: usize,
  rsB: i32,
  csB: i32,
  c: usize,
  ldc: i32,
  acc: bool,
  m0: i32,
  m1: i32,
  n0: i32,
  n1: i32,
  scratch: usize,
): void {
  if (m0 >= m1 || n0 >= n1) return;
  if (K == 0) {
    if (!acc) zeroRows(c + <usize> m0 * <usize> ldc * 4, m1 - m0, ldc, n0, n1);
    return;
  }
  const tmp = scratch;
  const pA = scratch + GEMM_TMP;
  const pB = pA + <usize> (MC * KC * 4);
  const ldcb = <usize> ldc * 4;
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const accK = acc || k0 > 0;
    const aStride = <usize> (kc * MR6 * 4), bStride = <usize> (kc * NR * 4);
    for (let nb = n0; nb < n1; nb += NC) {
      const nc = min(NC, n1 - nb);
      for (let j = 0; j < nc; j += NR) {
        packBStrided(b, rsB, csB, nb + j, min(NR, nc - j), k0, kc, pB + <usize> (j / NR) * bStride);
      }
      for (let mb = m0; mb < m1; mb += MC) {
        const mc = min(MC, m1 - mb);
        for (let i = 0; i < mc; i += MR6) {
          packRows6(a, rsA, csA, mb + i, min(MR6, mc - i), k0, kc, pA + <usize> (i / MR6) * aStride);
        }
        // Each 8-column panel of B stays in L1 while A's panels stream
        // from L2 (24 bytes a k step, against B's 32).
        for (let j = 0; j < nc; j += NR) {
          const nr = min(NR, nc - j);
          const bp = pB + <usize> (j / NR) * bStride;
          for (let i = 0; i < mc; i += MR6) {
            const mr = min(MR6, mc - i);
            const ap = pA + <usize> (i / MR6) * aStride;
            const cp = c + (<usize> (mb + i) * <usize> ldc + <usize> (nb + j)) * 4;
            if (mr == MR6 && nr == NR) {
              tile6x8(kc, ap, <usize> kc * 4, bp, cp, ldcb, accK);
            } else {
              tile6x8(kc, ap, <usize> kc * 4, bp, tmp, NR * 4, false);
              storePartial(tmp, cp, ldcb, mr, nr, accK);
            }
          }
        }
      }
    }
  }
}

// C[0:mr, 0:nr] (+)= the first rows and columns of a 6x8 tile in tmp.
function storePartial(tmp: usize, c: usize, ldc: usize, mr: i32, nr: i32, acc: bool): void {
  for (let i = 0; i < mr; i++) {
    const src = tmp + <usize> (i * NR * 4);
    const dst = c + <usize> i * ldc;
    for (let j = 0; j < nr; j++) {
      const v = load<f32>(src + <usize> (j * 4));
      const d = dst + <usize> (j * 4);
      store<f32>(d, acc ? load<f32>(d) + v : v);
    }
  }
}

// Bytes of one thread's GEMM scratch for B blocks of up to `bCols` columns:
// [6x8 tile | A block (MC rows, or the convolutions' MR) | B block], for the
// matrix products and the GEMM convolutions (called by the host).
export function gemm_scratch(bCols: i32): i32 {
  const cols = (bCols + NR - 1) / NR * NR;
  return GEMM_TMP + MC * KC * 4 + KC * cols * 4;
}

// Batched C = op(A) · op(B) with element strides, so every transpose variant
// of BatchMatMul is one call. Params: MatMul.
export function matmul(p: usize, tid: i32, nt: i32): void {
  const M = p32(p, MatMul.M), N = p32(p, MatMul.N), K = p32(p, MatMul.K);
  const batch = p32(p, MatMul.batch);
  const scratch = scratchOf(p, MatMul.scratch, MatMul.scratchStride, tid);
  // Split the larger output dimension; batches are shared out first when
  // there are enough of them.
  let bt0 = 0, bt1 = batch, m0 = 0, m1 = M, n0 = 0, n1 = N;
  if (batch >= nt * 2) {
    const r = splitRange(batch, 1, tid, nt);
    bt0 = <i32> (r >> 32);
    bt1 = <i32> r;
  } else if (M >= N) {
    const r = splitRange(M, MR6, tid, nt);
    m0 = <i32> (r >> 32);
    m1 = <i32> r;
  } else {
    const r = splitRange(N, NR, tid, nt);
    n0 = <i32> (r >> 32);
    n1 = <i32> r;
  }
  for (let bt = bt0; bt < bt1; bt++) {
    gemmRange(
      K,
      <usize> p32(p, MatMul.a) + <usize> bt * <usize> p32(p, MatMul.bsA) * 4,
      p32(p, MatMul.rsA),
      p32(p, MatMul.csA),
      <usize> p32(p, MatMul.b) + <usize> bt * <usize> p32(p, MatMul.bsB) * 4,
      p32(p, MatMul.rsB),
      p32(p, MatMul.csB),
      <usize> p32(p, MatMul.c) + <usize> bt * <usize> p32(p, MatMul.bsC) * 4,
      p32(p, MatMul.ldc),
      p32(p, MatMul.acc) != 0,
      m0,
      m1,
      n0,
      n1,
      scratch,
    );
  }
}

// Implicit-GEMM convolution: out[rows, N] = patches(img)[rows, K] · w[K, N]
// with w row-major. With up = stride it computes the input gradient from the
// output gradient and a flipped filter (see flipFilter).
// Params: ConvGemm.
export function conv_gemm(p: usize, tid: i32, nt: i32): void {
  const g = changetype<Geom>(p);
  const img = <usize> p32(p, ConvGemm.img),
    w = <usize> p32(p, ConvGemm.w),
    out = <usize> p32(p, ConvGemm.out);
  const N = p32(p, ConvGemm.N);
  const scratch = scratchOf(p, ConvGemm.scratch, ConvGemm.scratchStride, tid);
  const rows = g.batch * g.rowsH * g.rowsW;
  const K = g.kh * g.kw * g.imgC;
  const r = splitRange(rows, MR, tid, nt);
  const r0 = <i32> (r >> 32), r1 = <i32> r;
  if (r0 >= r1) return;
  const tmp = scratch;
  const pA = scratch + GEMM_TMP;
  const pB = pA + <usize> (MR * KC * 4);
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    for (let nb = 0; nb < N; nb += NC) {
      const nc = min(NC, N - nb);
      for (let j = 0; j < nc; j += NR) {
        packBStrided(
          w,
          N,
          1,
          nb + j,
          min(NR, nc - j),
          k0,
          kc,
          pB + <usize> ((j / NR) * kc * NR * 4),
        );
      }
      for (let i = r0; i < r1; i += MR) {
        const mr = min(MR, r1 - i);
        packAConv(g, img, i, mr, k0, kc, pA);
        macroBlock(
          mr,
          nc,
          kc,
          pA,
          pB,
          out + (<usize> i * <usize> N + <usize> nb) * 4,
          <usize> N * 4,
          k0 > 0,
          tmp,
        );
      }
    }
  }
}

// Filter gradient, phase 1: each thread reduces its share of pixels into its
// own partial dWᵀ[OC, K] = dyᵀ[OC, P] · patches(x)[P, K].
// Params: ConvFilterGrad.
export function conv_filter_grad(p: usize, tid: i32, nt: i32): void {
  const g = changetype<Geom>(p);
  const x = <usize> p32(p, ConvFilterGrad.x);
  const dy = <usize> p32(p, ConvFilterGrad.dy);
  const OC = p32(p, ConvFilterGrad.OC);
  const K = g.kh * g.kw * g.imgC;
  const partial = <usize> p32(p, ConvFilterGrad.partials) +
    <usize> tid * <usize> (OC * K) * 4;
  const scratch = scratchOf(
    p,
    ConvFilterGrad.scratch,
    ConvFilterGrad.scratchStride,
    tid,
  );
  const rows = g.batch * g.rowsH * g.rowsW;
  memory.fill(partial, 0, <usize> (OC * K) * 4);
  const r = splitRange(rows, 1, tid, nt);
  const q0 = <i32> (r >> 32), q1 = <i32> r;
  const tmp = scratch;
  const pA = scratch + GEMM_TMP;
  const pB = pA + <usize> (MR * KC * 4);
  for (let q = q0; q < q1; q += KC) {
    const kc = min(KC, q1 - q);
    packBConv(g, x, q, kc, pB);
    for (let oc = 0; oc < OC; oc += MR) {
      const mr = min(MR, OC - oc);
      packAStrided(dy, 1, OC, oc, mr, q, kc, pA);
      macroBlock(
        mr,
        K,
        kc,
        pA,
        pB,
        partial + <usize> (oc * K) * 4,
        <usize> K * 4,
        true,
        tmp,
      );
    }
  }
}

// Filter gradient, phase 2: dW[k, oc] = Σ_t partial_t[oc, k], split over k.
// Params: ConvFilterGrad, as phase 1.
export function conv_filter_reduce(p: usize, tid: i32, nt: i32): void {
  const g = changetype<Geom>(p);
  const OC = p32(p, ConvFilterGrad.OC);
  const K = g.kh * g.kw * g.imgC;
  const partials = <usize> p32(p, ConvFilterGrad.partials);
  const dW = <usize> p32(p, ConvFilterGrad.dW);
  const parts = p32(p, ConvFilterGrad.parts);
  const r = splitRange(K, 1, tid, nt);
  const k0 = <i32> (r >> 32), k1 = <i32> r;
  const partBytes = <usize> (OC * K) * 4;
  for (let k = k0; k < k1; k++) {
    for (let oc = 0; oc < OC; oc++) {
      let s: f32 = 0;
      const off = <usize> (oc * K + k) * 4;
      for (let t = 0; t < parts; t++) {
        s += load<f32>(partials + <usize> t * partBytes + off);
      }
      store<f32>(dW + <usize> (k * OC + oc) * 4, s);
    }
  }
}

// wflip[(ky, kx, oc), ic] = w[KH-1-ky, KW-1-kx, ic, oc]: the filter that turns
// the input gradient into a forward correlation of the output gradient.
// Params: FlipFilter.
export function flip_filter(p: usize, tid: i32, nt: i32): void {
  const KH = p32(p, FlipFilter.KH);
  const KW = p32(p, FlipFilter.KW);
  const IC = p32(p, FlipFilter.IC);
  const OC = p32(p, FlipFilter.OC);
  const w = <usize> p32(p, FlipFilter.w), wf = <usize> p32(p, FlipFilter.wflip);
  const r = splitRange(KH * KW, 1, tid, nt);
  for (let tap = <i32> (r >> 32); tap < <i32> r; tap++) {
    const ky = tap / KW, kx = tap - (tap / KW) * KW;
    const src = w +
      <usize> (((KH - 1 - ky) * KW + (KW - 1 - kx)) * IC * OC) * 4;
    const dst = wf + <usize> (tap * OC * IC) * 4;
    for (let ic = 0; ic < IC; ic++) {
      for (let oc = 0; oc < OC; oc++) {
        store<f32>(
          dst + <usize> (oc * IC + ic) * 4,
          load<f32>(src + <usize> (ic * OC + oc) * 4),
        );
      }
    }
  }
}

// In-place epilogue of a fused layer: out[r, c] = act(out[r, c] + bias[c]).
// act: 0 linear, 1 relu; bias 0 = none. Params: BiasAct.
export function bias_act(p: usize, tid: i32, nt: i32): void {
  const out = <usize> p32(p, BiasAct.out);
  const rows = p32(p, BiasAct.rows);
  const cols = p32(p, BiasAct.cols);
  const bias = <usize> p32(p, BiasAct.bias), act = p32(p, BiasAct.act);
  const r = splitRange(rows, 1, tid, nt);
  const c4 = cols & ~3;
  const zero = f32x4.splat(0);
  for (let i = <i32> (r >> 32); i < <i32> r; i++) {
    const row = out + <usize> i * <usize> cols * 4;
    for (let c = 0; c < c4; c += 4) {
      let v = v128.load(row + <usize> c * 4);
      if (bias) v = f32x4.add(v, v128.load(bias + <usize> c * 4));
      if (act == 1) v = f32x4.max(v, zero);
      v128.store(row + <usize> c * 4, v);
    }
    for (let c = c4; c < cols; c++) {
      let v = load<f32>(row + <usize> c * 4);
      if (bias) v += load<f32>(bias + <usize> c * 4);
      if (act == 1) v = max(v, <f32> 0);
      store<f32>(row + <usize> c * 4, v);
    }
  }
}

// Column sums of a row-major [rows, cols] matrix (the bias gradient of a
// layer: its output gradient summed over every axis but the last). Each
// thread sums a slice of rows into its own partial; the caller's thread 0
// adds the partials after the others finish (phase 2 below).
// Params: ColSum.
export function col_sum(p: usize, tid: i32, nt: i32): void {
  const x = <usize> p32(p, ColSum.x);
  const rows = p32(p, ColSum.rows);
  const cols = p32(p, ColSum.cols);
  const part = <usize> p32(p, ColSum.partials) +
    <usize> tid * lineUp(<usize> cols * 4);
  memory.fill(part, 0, <usize> cols * 4);
  const r = splitRange(rows, 1, tid, nt);
  const c4 = cols & ~3;
  for (let i = <i32> (r >> 32); i < <i32> r; i++) {
    const row = x + <usize> i * <usize> cols * 4;
    for (let c = 0; c < c4; c += 4) {
      const d = part + <usize> c * 4;
      v128.store(d, f32x4.add(v128.load(d), v128.load(row + <usize> c * 4)));
    }
    for (let c = c4; c < cols; c++) {
      const d = part + <usize> c * 4;
      store<f32>(d, load<f32>(d) + load<f32>(row + <usize> c * 4));
    }
  }
}

// Phase 2 of col_sum: out[c] = scale · Σ_t partial_t[c], split over columns.
// Params: ColSum, as phase 1.
export function col_sum_reduce(p: usize, tid: i32, nt: i32): void {
  const cols = p32(p, ColSum.cols);
  const partials = <usize> p32(p, ColSum.partials);
  const out = <usize> p32(p, ColSum.out);
  const parts = p32(p, ColSum.parts);
  const scale = f32At(p, ColSum.scale);
  const stride = lineUp(<usize> cols * 4);
  const r = splitRange(cols, 1, tid, nt);
  for (let c = <i32> (r >> 32); c < <i32> r; c++) {
    let s: f32 = 0;
    for (let t = 0; t < parts; t++) {
      s += load<f32>(partials + <usize> t * stride + <usize> c * 4);
    }
    store<f32>(out + <usize> c * 4, s * scale);
  }
}
