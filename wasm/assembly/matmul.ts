// Matrix products (BatchMatMul, _FusedMatMul): GotoBLAS blocking around the
// 6x8 micro-tile of gemm.ts. Per k block of KC steps: B packed in 8-column
// panels, A in blocks of MC rows packed six rows at a time (macroBlock).

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
import { p32, splitRange } from "./params";
import { MatMul } from "./blocks";

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
        macroBlock(
          mc, nc, kc, pA, pB,
          c + (<usize> mb * <usize> ldc + <usize> nb) * 4,
          ldcb, accK, tmp,
        );
      }
    }
  }
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

