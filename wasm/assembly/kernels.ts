// simdnet's training kernels, entry points called by every thread of the pool.
//
// Each export takes (params, tid, nt): `params` points to a parameter block
// in the shared heap written by the host, `tid` is this thread's index and
// `nt` the number of threads. Blocks are declared in src/kernels/<family>.ts
// and their word offsets generated into ./blocks.ts. A thread only ever
// writes its own share of the output (or its own partial buffer), so no
// locks are needed.

import {
  GEMM_TMP,
  KC,
  macroBlock,
  MC,
  MR6,
  NC,
  NR,
  packBStrided,
  packRows6,
  scratchOf,
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
} from "./blocks";

export { gemm_scratch } from "./gemm";
export { work_counter_offset } from "./params";
export { matmul } from "./matmul";
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
export { col2im } from "./col2im";
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
  const r = splitRange(rows, MR6, tid, nt);
  const r0 = <i32> (r >> 32), r1 = <i32> r;
  if (r0 >= r1) return;
  const tmp = scratch;
  const pA = scratch + GEMM_TMP;
  const pB = pA + <usize> (MC * KC * 4);
  for (let k0 = 0; k0 < K; k0 += KC) {
    const kc = min(KC, K - k0);
    const aStride = <usize> kc * (MR6 * 4), bStride = <usize> kc * (NR * 4);
    for (let nb = 0; nb < N; nb += NC) {
      const nc = min(NC, N - nb);
      for (let j = 0; j < nc; j += NR) {
        packBStrided(w, N, 1, nb + j, min(NR, nc - j), k0, kc, pB + <usize> (j / NR) * bStride);
      }
      for (let mb = r0; mb < r1; mb += MC) {
        const mc = min(MC, r1 - mb);
        for (let i = 0; i < mc; i += MR6) {
          packAConv(g, img, mb + i, min(MR6, mc - i), k0, kc, pA + <usize> (i / MR6) * aStride);
        }
        macroBlock(
          mc, nc, kc, pA, pB,
          out + (<usize> mb * <usize> N + <usize> nb) * 4,
          <usize> N * 4, k0 > 0, tmp,
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
  const pB = pA + <usize> (MC * KC * 4);
  for (let q = q0; q < q1; q += KC) {
    const kc = min(KC, q1 - q);
    const aStride = <usize> kc * (MR6 * 4);
    packBConv(g, x, q, kc, pB);
    for (let ob = 0; ob < OC; ob += MC) {
      const mc = min(MC, OC - ob);
      // Rows of dyᵀ: output channels, each strided by OC over the pixels.
      for (let i = 0; i < mc; i += MR6) {
        packRows6(dy, 1, OC, ob + i, min(MR6, mc - i), q, kc, pA + <usize> (i / MR6) * aStride);
      }
      macroBlock(
        mc, K, kc, pA, pB,
        partial + <usize> (ob * K) * 4,
        <usize> K * 4, true, tmp,
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
