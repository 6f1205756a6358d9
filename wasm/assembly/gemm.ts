// Packed-panel SGEMM core shared by every simdnet GEMM: the matrix
// products (matmul.ts), the implicit-GEMM convolutions (kernels.ts) and the
// Winograd products (winograd_conv.ts).
//
// All pointers are byte offsets into the tfjs WebAssembly heap, which this
// module imports, so kernels read and write tensors in place. The module
// never allocates: scratch space comes from the host, one region per thread.
//
// Layout (GotoBLAS style): an A panel holds six rows of kc floats, one row
// after another (packRows6, or conv_pack's packAConv for patches); a B panel
// holds NR columns for kc steps, k-major ([k][NR]). The micro-kernel,
// tile6x8, keeps a 6 x 8 tile of C in registers.

import { p32 } from "./params";

export const NR: i32 = 8;
export const KC: i32 = 256;
// Rows of tile6x8, and so of an A panel.
export const MR6: i32 = 6;
// Columns of B per packed block.
export const NC: i32 = 512;
// Rows of A per packed block (16 panels of six, 96 KiB at KC = 256: L2 on
// any CPU with SIMD128).
export const MC: i32 = 96;
// The 6x8 tile scratch that starts every GEMM scratch.
export const GEMM_TMP: i32 = 256;

// Scratch of one thread: [tmp tile | A block | B block] (gemm_scratch), from
// the block's scratch base and per-thread stride words.
export function scratchOf(p: usize, base: i32, stride: i32, tid: i32): usize {
  return <usize> p32(p, base) + <usize> tid * <usize> p32(p, stride);
}

// Bytes of one thread's GEMM scratch for B blocks of up to `bCols` columns
// (called by the host).
export function gemm_scratch(bCols: i32): i32 {
  const cols = (bCols + NR - 1) / NR * NR;
  return GEMM_TMP + MC * KC * 4 + KC * cols * 4;
}

// Relaxed FMA fuses multiply and add into one rounding; the plain build keeps
// two roundings. Both are chosen at compile time so the hot loop has no branch.
export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// C[6 x 8] (+)= A[6 x K] · panel[K x 8]: A's rows `lda` bytes apart (the
// transformed tiles of one Winograd position, or a panel of packRows6), the
// panel [K][8]. Six rows keep twelve accumulators in flight, which hides
// the FMA latency better than a 4x8 tile (L1-resident micro-benchmark,
// K = 128: 48 against 45 GFLOP/s; 512x7x7x128->128 input gradient, 1
// thread: 62 -> 57 ms; the seed CNN's Dense products, 1 thread, with B's
// panel in L1: 7.4 -> 6.2 ms). Eight rows spill V8's 16 xmm registers (34
// GFLOP/s). One k step per trip: the same tile unrolled by four k steps
// also spills.
@inline
export function tile6x8(
  K: i32,
  a: usize,
  lda: usize,
  b: usize,
  c: usize,
  ldc: usize,
  acc: bool,
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
  if (acc) {
    c00 = f32x4.add(c00, v128.load(c));
    c01 = f32x4.add(c01, v128.load(c, 16));
    c10 = f32x4.add(c10, v128.load(c + ldc));
    c11 = f32x4.add(c11, v128.load(c + ldc, 16));
    c20 = f32x4.add(c20, v128.load(c + 2 * ldc));
    c21 = f32x4.add(c21, v128.load(c + 2 * ldc, 16));
    c30 = f32x4.add(c30, v128.load(c + 3 * ldc));
    c31 = f32x4.add(c31, v128.load(c + 3 * ldc, 16));
    c40 = f32x4.add(c40, v128.load(c + 4 * ldc));
    c41 = f32x4.add(c41, v128.load(c + 4 * ldc, 16));
    c50 = f32x4.add(c50, v128.load(c + 5 * ldc));
    c51 = f32x4.add(c51, v128.load(c + 5 * ldc, 16));
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

// Packs rows [m0, m0+mr) x k-range [k0, k0+kc) of a strided matrix A
// (element strides rs, cs) into six rows of kc floats for tile6x8, rows
// past mr zero.
export function packRows6(
  a: usize,
  rs: i32,
  cs: i32,
  m0: i32,
  mr: i32,
  k0: i32,
  kc: i32,
  dst: usize,
): void {
  const row = <usize> kc * 4;
  if (cs == 1) {
    // Rows are contiguous: one copy each.
    for (let i = 0; i < mr; i++) {
      memory.copy(
        dst + <usize> i * row,
        a + (<usize> (m0 + i) * <usize> rs + <usize> k0) * 4,
        row,
      );
    }
  } else if (rs == 1 && mr == MR6 && (kc & 3) == 0) {
    // Columns are contiguous (a transposed operand): 4x4 transposes for
    // rows 0-3, rows 4 and 5 one float at a time.
    const cb = <usize> cs * 4;
    for (let k = 0; k < kc; k += 4) {
      const s = a + (<usize> m0 + <usize> (k0 + k) * <usize> cs) * 4;
      const r0 = v128.load(s), r1 = v128.load(s + cb);
      const r2 = v128.load(s + 2 * cb), r3 = v128.load(s + 3 * cb);
      const t0 = v128.shuffle<u32>(r0, r1, 0, 4, 1, 5);
      const t1 = v128.shuffle<u32>(r2, r3, 0, 4, 1, 5);
      const t2 = v128.shuffle<u32>(r0, r1, 2, 6, 3, 7);
      const t3 = v128.shuffle<u32>(r2, r3, 2, 6, 3, 7);
      const d = dst + <usize> k * 4;
      v128.store(d, v128.shuffle<u64>(t0, t1, 0, 2));
      v128.store(d + row, v128.shuffle<u64>(t0, t1, 1, 3));
      v128.store(d + 2 * row, v128.shuffle<u64>(t2, t3, 0, 2));
      v128.store(d + 3 * row, v128.shuffle<u64>(t2, t3, 1, 3));
      for (let j: usize = 0; j < 4; j++) {
        const q = s + j * cb;
        store<f32>(d + 4 * row + j * 4, load<f32>(q, 16));
        store<f32>(d + 5 * row + j * 4, load<f32>(q, 20));
      }
    }
    return;
  } else {
    for (let i = 0; i < mr; i++) {
      const src = a + <usize> (m0 + i) * <usize> rs * 4;
      const d = dst + <usize> i * row;
      for (let k = 0; k < kc; k++) {
        store<f32>(d + <usize> k * 4, load<f32>(src + <usize> (k0 + k) * <usize> cs * 4));
      }
    }
  }
  for (let i = mr; i < MR6; i++) memory.fill(dst + <usize> i * row, 0, row);
}

// Packs columns [n0, n0+nr) x k-range [k0, k0+kc) of a strided matrix B
// (element strides rs, cs) into a zero-padded [kc][NR] panel.
export function packBStrided(
  b: usize,
  rs: i32,
  cs: i32,
  n0: i32,
  nr: i32,
  k0: i32,
  kc: i32,
  dst: usize,
): void {
  if (cs == 1 && nr == NR) {
    for (let k = 0; k < kc; k++) {
      const src = b + (<usize> (k0 + k) * <usize> rs + <usize> n0) * 4;
      const d = dst + <usize> (k * 32);
      v128.store(d, v128.load(src));
      v128.store(d, v128.load(src, 16), 16);
    }
    return;
  }
  if (rs == 1 && nr == NR && (kc & 3) == 0) {
    // Rows are contiguous: transpose 4x4 blocks so each k gets its NR lanes.
    for (let k = 0; k < kc; k += 4) {
      for (let h = 0; h < 2; h++) {
        const base = b +
          (<usize> (k0 + k) + <usize> (n0 + h * 4) * <usize> cs) * 4;
        const r0 = v128.load(base);
        const r1 = v128.load(base + <usize> cs * 4);
        const r2 = v128.load(base + <usize> cs * 8);
        const r3 = v128.load(base + <usize> cs * 12);
        const t0 = v128.shuffle<u32>(r0, r1, 0, 4, 1, 5);
        const t1 = v128.shuffle<u32>(r2, r3, 0, 4, 1, 5);
        const t2 = v128.shuffle<u32>(r0, r1, 2, 6, 3, 7);
        const t3 = v128.shuffle<u32>(r2, r3, 2, 6, 3, 7);
        const d = dst + <usize> (k * 32 + h * 16);
        v128.store(d, v128.shuffle<u64>(t0, t1, 0, 2));
        v128.store(d + 32, v128.shuffle<u64>(t0, t1, 1, 3));
        v128.store(d + 64, v128.shuffle<u64>(t2, t3, 0, 2));
        v128.store(d + 96, v128.shuffle<u64>(t2, t3, 1, 3));
      }
    }
    return;
  }
  for (let k = 0; k < kc; k++) {
    const row = b + <usize> (k0 + k) * <usize> rs * 4;
    const d = dst + <usize> (k * 32);
    for (let j = 0; j < NR; j++) {
      store<f32>(
        d + <usize> (j * 4),
        j < nr ? load<f32>(row + <usize> (n0 + j) * <usize> cs * 4) : 0,
      );
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

// C[0:mc, 0:nc] (+)= A · B over one k block of kc steps, A as ceil(mc / 6)
// panels of six rows, B as ceil(nc / 8) panels [kc][8]; `ldc` is C's row
// stride in bytes. Each B panel stays in L1 while the A panels stream past
// it from L2 (24 bytes a k step, against B's 32); partial tiles go through
// tmp.
export function macroBlock(
  mc: i32,
  nc: i32,
  kc: i32,
  pA: usize,
  pB: usize,
  c: usize,
  ldc: usize,
  acc: bool,
  tmp: usize,
): void {
  const aStride = <usize> kc * (MR6 * 4), bStride = <usize> kc * (NR * 4);
  const lda = <usize> kc * 4;
  for (let j = 0; j < nc; j += NR) {
    const nr = min(NR, nc - j);
    const bp = pB + <usize> (j / NR) * bStride;
    for (let i = 0; i < mc; i += MR6) {
      const mr = min(MR6, mc - i);
      const ap = pA + <usize> (i / MR6) * aStride;
      const cp = c + <usize> i * ldc + <usize> (j * 4);
      if (mr == MR6 && nr == NR) {
        tile6x8(kc, ap, lda, bp, cp, ldc, acc);
      } else {
        tile6x8(kc, ap, lda, bp, tmp, NR * 4, false);
        storePartial(tmp, cp, ldc, mr, nr, acc);
      }
    }
  }
}
