// Packed-panel SGEMM core shared by every simdnet training kernel.
//
// All pointers are byte offsets into the tfjs WebAssembly heap, which this
// module imports, so kernels read and write tensors in place. The module
// never allocates: scratch space comes from the host, one region per thread.
//
// Layout of packed panels (GotoBLAS style): an A panel holds MR rows for KC
// steps, k-major ([k][MR]); a B panel holds NR columns for KC steps ([k][NR]).
// The micro-kernel keeps an MR x NR tile of C in registers.

import { p32 } from "./params";

export const MR: i32 = 4;
export const NR: i32 = 8;
export const KC: i32 = 256;
// Rows of tile6x8, the micro-kernel of the matrix products and Winograd's.
export const MR6: i32 = 6;
// Columns of B per packed block.
export const NC: i32 = 512;
// The 6x8 tile scratch that starts every GEMM scratch (a 4x8 tile's too).
export const GEMM_TMP: i32 = 256;

// Scratch of one thread: [tmp tile | A panel(s) | B block] (gemm_scratch in
// matmul.ts), from the block's scratch base and per-thread stride words.
export function scratchOf(p: usize, base: i32, stride: i32, tid: i32): usize {
  return <usize> p32(p, base) + <usize> tid * <usize> p32(p, stride);
}

// Relaxed FMA fuses multiply and add into one rounding; the plain build keeps
// two roundings. Both are chosen at compile time so the hot loop has no branch.
export function madd(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(f32x4.mul(a, b), c);
}

// C[0:mr, 0:nr] (+)= A_panel · B_panel for one tile. `c` is the top-left of the
// tile, `ldc` the row stride in bytes; `tmp` is a 32-float scratch used for
// partial tiles.
export function microTile(
  kc: i32,
  pa: usize,
  pb: usize,
  c: usize,
  ldc: usize,
  accumulate: bool,
  mr: i32,
  nr: i32,
  tmp: usize,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  // One k step per trip: unrolling by four made V8 keep more loads live
  // than the 16 xmm registers hold (4x8 tile in L1, K = 128: 34 GFLOP/s
  // unrolled, 45 GFLOP/s not, against a 55.7 GFLOP/s peak).
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = madd(a, b0, c00);
    c01 = madd(a, b1, c01);
    a = v128.load32_splat(pa, 4);
    c10 = madd(a, b0, c10);
    c11 = madd(a, b1, c11);
    a = v128.load32_splat(pa, 8);
    c20 = madd(a, b0, c20);
    c21 = madd(a, b1, c21);
    a = v128.load32_splat(pa, 12);
    c30 = madd(a, b0, c30);
    c31 = madd(a, b1, c31);
    pa += 16;
    pb += 32;
  }
  if (mr == MR && nr == NR) {
    if (accumulate) {
      c00 = f32x4.add(c00, v128.load(c));
      c01 = f32x4.add(c01, v128.load(c, 16));
      c10 = f32x4.add(c10, v128.load(c + ldc));
      c11 = f32x4.add(c11, v128.load(c + ldc, 16));
      c20 = f32x4.add(c20, v128.load(c + 2 * ldc));
      c21 = f32x4.add(c21, v128.load(c + 2 * ldc, 16));
      c30 = f32x4.add(c30, v128.load(c + 3 * ldc));
      c31 = f32x4.add(c31, v128.load(c + 3 * ldc, 16));
    }
    v128.store(c, c00);
    v128.store(c, c01, 16);
    v128.store(c + ldc, c10);
    v128.store(c + ldc, c11, 16);
    v128.store(c + 2 * ldc, c20);
    v128.store(c + 2 * ldc, c21, 16);
    v128.store(c + 3 * ldc, c30);
    v128.store(c + 3 * ldc, c31, 16);
    return;
  }
  v128.store(tmp, c00);
  v128.store(tmp, c01, 16);
  v128.store(tmp, c10, 32);
  v128.store(tmp, c11, 48);
  v128.store(tmp, c20, 64);
  v128.store(tmp, c21, 80);
  v128.store(tmp, c30, 96);
  v128.store(tmp, c31, 112);
  for (let i = 0; i < mr; i++) {
    const row = c + <usize> i * ldc;
    const src = tmp + <usize> (i * NR * 4);
    for (let j = 0; j < nr; j++) {
      const v = load<f32>(src + <usize> (j * 4));
      const dst = row + <usize> (j * 4);
      store<f32>(dst, accumulate ? load<f32>(dst) + v : v);
    }
  }
}

// C[6 x 8] (+)= A[6 x K] · panel[K x 8]: A's rows `lda` bytes apart (the
// transformed tiles of one Winograd position, or a panel of packRows6), the
// panel [K][8]. Six rows keep twelve accumulators in flight, which hides
// the FMA latency better than microTile's 4x8 (L1-resident micro-benchmark,
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

// Packs rows [m0, m0+mr) x k-range [k0, k0+kc) of a strided matrix A
// (element strides rs, cs) into a zero-padded [kc][MR] panel.
export function packAStrided(
  a: usize,
  rs: i32,
  cs: i32,
  m0: i32,
  mr: i32,
  k0: i32,
  kc: i32,
  dst: usize,
): void {
  if (rs == 1 && mr == MR) {
    // Columns are contiguous: one vector load per k.
    for (let k = 0; k < kc; k++) {
      v128.store(
        dst + <usize> (k * 16),
        v128.load(a + (<usize> m0 + <usize> (k0 + k) * <usize> cs) * 4),
      );
    }
    return;
  }
  for (let k = 0; k < kc; k++) {
    const col = a + <usize> (k0 + k) * <usize> cs * 4;
    const d = dst + <usize> (k * 16);
    for (let i = 0; i < MR; i++) {
      store<f32>(
        d + <usize> (i * 4),
        i < mr ? load<f32>(col + <usize> (m0 + i) * <usize> rs * 4) : 0,
      );
    }
  }
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

// Runs the micro-kernel over an mc x nc block whose panels are already
// packed: `pa` holds ceil(mc/MR) A panels, `pb` ceil(nc/NR) B panels.
export function macroBlock(
  mc: i32,
  nc: i32,
  kc: i32,
  pa: usize,
  pb: usize,
  c: usize,
  ldc: usize,
  accumulate: bool,
  tmp: usize,
): void {
  const aStride = <usize> (kc * MR * 4);
  const bStride = <usize> (kc * NR * 4);
  for (let i = 0; i < mc; i += MR) {
    const mr = min(MR, mc - i);
    const ap = pa + <usize> (i / MR) * aStride;
    for (let j = 0; j < nc; j += NR) {
      const nr = min(NR, nc - j);
      microTile(
        kc,
        ap,
        pb + <usize> (j / NR) * bStride,
        c + <usize> i * ldc + <usize> (j * 4),
        ldc,
        accumulate,
        mr,
        nr,
        tmp,
      );
    }
  }
}
