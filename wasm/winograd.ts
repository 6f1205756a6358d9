// Winograd F(2x2, 3x3) convolution for stride-1 3x3 filters: each 2x2 block
// of outputs costs 16 multiplies per channel pair instead of 36, so the
// seed's 3x3 layers (forward, and the input gradient, which is a 3x3
// convolution of dy with the flipped filter) do 2.25x less arithmetic.
//
//   Y = Aᵀ [ Σ_k (G g_k,n Gᵀ) ⊙ (Bᵀ d_k Bᵀᵀ) ] A
//
// The filter transform U = G g Gᵀ runs once per call into packed GEMM
// panels. Then each thread takes blocks of TB output tiles: it transforms
// their 4x4 input patches (four channels per vector, since NHWC keeps
// channels contiguous), runs 16 small GEMMs [TB x K]·[K x N], one per
// position of the 4x4 transformed tile, and transforms the products back
// into 2x2 outputs with bias and relu fused. Every buffer of a block stays in
// the thread's scratch, so nothing the size of the batch is materialised.
//
// The transforms only add, subtract and halve, so the result differs from a
// direct convolution by a few ulps of the partial sums.

import { madd, NR } from "./gemm";

// Output tiles per block: 16 positions x TB x (K + N) floats of scratch.
export const TB: i32 = 32;

function p32(p: usize, i: i32): i32 {
  return load<i32>(p + <usize> (i * 4));
}

function roundUp(n: i32, m: i32): i32 {
  return (n + m - 1) / m * m;
}

// Filter transform into panels u[pos][n / NR][k][NR], zero-padded in n.
// flip = 0: g[ky][kx][k][n] = w[ky][kx][k][n] (w is [3][3][K][N]).
// flip = 1: g[ky][kx][k][n] = w[2 - ky][2 - kx][n][k] (w is [3][3][N][K]),
// the filter of the input gradient. Threads split over k.
// Params: K N w u flip.
export function wino_filter(p: usize, tid: i32, nt: i32): void {
  const K = p32(p, 0), N = p32(p, 1);
  const w = <usize> p32(p, 2), u = <usize> p32(p, 3), flip = p32(p, 4);
  const Np = roundUp(N, NR);
  const posStride = <usize> (Np / NR) * <usize> K * <usize> (NR * 4);
  const per = (K + nt - 1) / nt;
  const k0 = tid * per, k1 = min(K, k0 + per);
  // Element stride of a tap (ky, kx) and of n, and the offset of tap 0.
  const tapStride: isize = flip
    ? -(<isize> N * <isize> K)
    : <isize> K * <isize> N;
  for (let k = k0; k < k1; k++) {
    for (let n = 0; n < Np; n++) {
      const dst = u + <usize> (n / NR) * <usize> K * <usize> (NR * 4) +
        <usize> k * <usize> (NR * 4) + <usize> (n % NR) * 4;
      if (n >= N) {
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

function ld(p: usize, on: bool): v128 {
  return on ? v128.load(p) : f32x4.splat(0);
}

// V = Bᵀ d B for one 4x4 patch of four channels, written to v[pos * posStride].
// `x` addresses patch pixel (0, 0), possibly outside the image; bit
// (i * 4 + j) of `mask` is set when pixel (i, j) is inside.

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

// C[4 x 8] = A[4 x K] · panel[K x 8]: A rows `lda` bytes apart (the
// transformed tiles of one position), K a multiple of 4.

function tile4x8(
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
  const a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda;
  for (let k: usize = 0; k < <usize> K * 4; k += 16) {
    const pb = b + k * 8;
    let b0 = v128.load(pb), b1 = v128.load(pb, 16);
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
    b0 = v128.load(pb, 32);
    b1 = v128.load(pb, 48);
    v = v128.load32_splat(a + k, 4);
    c00 = madd(v, b0, c00);
    c01 = madd(v, b1, c01);
    v = v128.load32_splat(a1 + k, 4);
    c10 = madd(v, b0, c10);
    c11 = madd(v, b1, c11);
    v = v128.load32_splat(a2 + k, 4);
    c20 = madd(v, b0, c20);
    c21 = madd(v, b1, c21);
    v = v128.load32_splat(a3 + k, 4);
    c30 = madd(v, b0, c30);
    c31 = madd(v, b1, c31);
    b0 = v128.load(pb, 64);
    b1 = v128.load(pb, 80);
    v = v128.load32_splat(a + k, 8);
    c00 = madd(v, b0, c00);
    c01 = madd(v, b1, c01);
    v = v128.load32_splat(a1 + k, 8);
    c10 = madd(v, b0, c10);
    c11 = madd(v, b1, c11);
    v = v128.load32_splat(a2 + k, 8);
    c20 = madd(v, b0, c20);
    c21 = madd(v, b1, c21);
    v = v128.load32_splat(a3 + k, 8);
    c30 = madd(v, b0, c30);
    c31 = madd(v, b1, c31);
    b0 = v128.load(pb, 96);
    b1 = v128.load(pb, 112);
    v = v128.load32_splat(a + k, 12);
    c00 = madd(v, b0, c00);
    c01 = madd(v, b1, c01);
    v = v128.load32_splat(a1 + k, 12);
    c10 = madd(v, b0, c10);
    c11 = madd(v, b1, c11);
    v = v128.load32_splat(a2 + k, 12);
    c20 = madd(v, b0, c20);
    c21 = madd(v, b1, c21);
    v = v128.load32_splat(a3 + k, 12);
    c30 = madd(v, b0, c30);
    c31 = madd(v, b1, c31);
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

// The 4x4 mask of patch pixels inside the image, for a patch at (y0, x0).
function patchMask(y0: i32, x0: i32, H: i32, W: i32): i32 {
  let cols = 0;
  for (let j = 0; j < 4; j++) if (x0 + j >= 0 && x0 + j < W) cols |= 1 << j;
  let mask = 0;
  for (let i = 0; i < 4; i++) {
    if (y0 + i >= 0 && y0 + i < H) mask |= cols << (i * 4);
  }
  return mask;
}

// out = act(conv3x3(x, g) + bias) with stride 1, through the transformed
// filter u of wino_filter. x is [B, H, W, K], out [B, OH, OW, N]; output
// pixel (oy, ox) reads inputs from (oy - padT, ox - padL). K and N are
// multiples of 4. Threads split over output tiles.
// Params: B H W K OH OW padT padL x u out N bias(0 = none) act scratch
// scratchPerThread.
export function wino_conv(p: usize, tid: i32, nt: i32): void {
  const B = p32(p, 0), H = p32(p, 1), W = p32(p, 2), K = p32(p, 3);
  const OH = p32(p, 4), OW = p32(p, 5), padT = p32(p, 6), padL = p32(p, 7);
  const x = <usize> p32(p, 8), u = <usize> p32(p, 9), out = <usize> p32(p, 10);
  const N = p32(p, 11), bias = <usize> p32(p, 12), act = p32(p, 13);
  const scratch = <usize> p32(p, 14) + <usize> tid * <usize> p32(p, 15);
  const Np = roundUp(N, NR);
  const tw = (OW + 1) >> 1, th = (OH + 1) >> 1;
  const T = B * th * tw;
  // Contiguous shares of whole 4-tile groups.
  const groups = (T + 3) >> 2;
  const per = groups / nt, extra = groups % nt;
  const g0 = tid * per + min(tid, extra);
  const r0 = min(T, g0 * 4),
    r1 = min(T, (g0 + per + (tid < extra ? 1 : 0)) * 4);
  const vBuf = scratch;
  const vPos = <usize> TB * <usize> K * 4;
  const mBuf = vBuf + 16 * vPos;
  const mPos = <usize> TB * <usize> Np * 4;
  const uPos = <usize> K * <usize> Np * 4;
  const rs = <usize> W * <usize> K * 4, cs = <usize> K * 4;
  const zero = f32x4.splat(0);
  for (let t0 = r0; t0 < r1; t0 += TB) {
    const tb = min(TB, r1 - t0);
    for (let t = 0; t < tb; t++) {
      const tile = t0 + t;
      const tx = tile % tw, rest = tile / tw;
      const ty = rest % th, b = rest / th;
      const y0 = ty * 2 - padT, x0 = tx * 2 - padL;
      const mask = patchMask(y0, x0, H, W);
      const src = <usize> (<isize> x +
        ((<isize> b * <isize> H + <isize> y0) * <isize> W + <isize> x0) *
          <isize> K * 4);
      const dst = vBuf + <usize> t * <usize> K * 4;
      for (let c = 0; c < K; c += 4) {
        inputTile(src + <usize> c * 4, rs, cs, mask, dst + <usize> c * 4, vPos);
      }
    }
    for (let pos = 0; pos < 16; pos++) {
      const a = vBuf + <usize> pos * vPos;
      const bp = u + <usize> pos * uPos;
      const c = mBuf + <usize> pos * mPos;
      for (let i = 0; i < tb; i += 4) {
        for (let j = 0; j < Np; j += NR) {
          tile4x8(
            K,
            a + <usize> i * <usize> K * 4,
            <usize> K * 4,
            bp + <usize> (j / NR) * <usize> K * (NR * 4),
            c + (<usize> i * <usize> Np + <usize> j) * 4,
            <usize> Np * 4,
          );
        }
      }
    }
    for (let t = 0; t < tb; t++) {
      const tile = t0 + t;
      const tx = tile % tw, rest = tile / tw;
      const ty = rest % th, b = rest / th;
      const oy = ty * 2, ox = tx * 2;
      const right = ox + 1 < OW, down = oy + 1 < OH;
      const o = out +
        ((<usize> (b * OH + oy) * <usize> OW + <usize> ox) * <usize> N) * 4;
      const orow = <usize> OW * <usize> N * 4;
      const m = mBuf + <usize> t * <usize> Np * 4;
      for (let n = 0; n < N; n += 4) {
        const q = m + <usize> n * 4;
        // Aᵀ M down each column c: s0 = m0 + m1 + m2, s1 = m1 - m2 - m3.
        let m0 = v128.load(q), m1 = v128.load(q + 4 * mPos);
        let m2 = v128.load(q + 8 * mPos), m3 = v128.load(q + 12 * mPos);
        const s00 = f32x4.add(f32x4.add(m0, m1), m2),
          s10 = f32x4.sub(f32x4.sub(m1, m2), m3);
        m0 = v128.load(q + mPos);
        m1 = v128.load(q + 5 * mPos);
        m2 = v128.load(q + 9 * mPos);
        m3 = v128.load(q + 13 * mPos);
        const s01 = f32x4.add(f32x4.add(m0, m1), m2),
          s11 = f32x4.sub(f32x4.sub(m1, m2), m3);
        m0 = v128.load(q + 2 * mPos);
        m1 = v128.load(q + 6 * mPos);
        m2 = v128.load(q + 10 * mPos);
        m3 = v128.load(q + 14 * mPos);
        const s02 = f32x4.add(f32x4.add(m0, m1), m2),
          s12 = f32x4.sub(f32x4.sub(m1, m2), m3);
        m0 = v128.load(q + 3 * mPos);
        m1 = v128.load(q + 7 * mPos);
        m2 = v128.load(q + 11 * mPos);
        m3 = v128.load(q + 15 * mPos);
        const s03 = f32x4.add(f32x4.add(m0, m1), m2),
          s13 = f32x4.sub(f32x4.sub(m1, m2), m3);
        // (Aᵀ M) A along each row.
        let y00 = f32x4.add(f32x4.add(s00, s01), s02);
        let y01 = f32x4.sub(f32x4.sub(s01, s02), s03);
        let y10 = f32x4.add(f32x4.add(s10, s11), s12);
        let y11 = f32x4.sub(f32x4.sub(s11, s12), s13);
        if (bias) {
          const bv = v128.load(bias + <usize> n * 4);
          y00 = f32x4.add(y00, bv);
          y01 = f32x4.add(y01, bv);
          y10 = f32x4.add(y10, bv);
          y11 = f32x4.add(y11, bv);
        }
        if (act == 1) {
          y00 = f32x4.max(y00, zero);
          y01 = f32x4.max(y01, zero);
          y10 = f32x4.max(y10, zero);
          y11 = f32x4.max(y11, zero);
        }
        const d = o + <usize> n * 4;
        v128.store(d, y00);
        if (right) v128.store(d + cs2(N), y01);
        if (down) {
          v128.store(d + orow, y10);
          if (right) v128.store(d + orow + cs2(N), y11);
        }
      }
    }
  }
}

function cs2(N: i32): usize {
  return <usize> N * 4;
}

// A dy Aᵀ for one 2x2 tile of dy, four channels (the adjoint of the output
// transform): rows (a, a + c, a - c, -c) of the tile, then the same along
// each row. `mask` bit (i * 2 + j) is set for dy pixels inside the output.

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
  const Np = roundUp(N, NR);
  const uPos = <usize> K * <usize> Np * 4;
  const part = <usize> p32(p, 10) + <usize> tid * 16 * uPos;
  memory.fill(part, 0, 16 * uPos);
  const tw = (OW + 1) >> 1, th = (OH + 1) >> 1;
  const T = B * th * tw;
  const per = T / nt, extra = T % nt;
  const r0 = tid * per + min(tid, extra);
  const r1 = r0 + per + (tid < extra ? 1 : 0);
  const vBuf = scratch;
  const vPos = <usize> TB * <usize> K * 4;
  const gBuf = vBuf + 16 * vPos;
  const gPos = <usize> TB * <usize> Np * 4;
  const rs = <usize> W * <usize> K * 4, cs = <usize> K * 4;
  const drs = <usize> OW * <usize> N * 4, dcs = <usize> N * 4;
  for (let t0 = r0; t0 < r1; t0 += TB) {
    const tb = min(TB, r1 - t0);
    for (let t = 0; t < tb; t++) {
      const tile = t0 + t;
      const tx = tile % tw, rest = tile / tw;
      const ty = rest % th, b = rest / th;
      const y0 = ty * 2 - padT, x0 = tx * 2 - padL;
      const mask = patchMask(y0, x0, H, W);
      const src = <usize> (<isize> x +
        ((<isize> b * <isize> H + <isize> y0) * <isize> W + <isize> x0) *
          <isize> K * 4);
      const dst = vBuf + <usize> t * <usize> K * 4;
      for (let c = 0; c < K; c += 4) {
        inputTile(src + <usize> c * 4, rs, cs, mask, dst + <usize> c * 4, vPos);
      }
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
    for (let pos = 0; pos < 16; pos++) {
      const a = vBuf + <usize> pos * vPos;
      const g = gBuf + <usize> pos * gPos;
      const c = part + <usize> pos * uPos;
      for (let k = 0; k < K; k += 4) {
        for (let j = 0; j < Np; j += NR) {
          outer4x8(
            tb,
            a + <usize> k * 4,
            <usize> K * 4,
            g + <usize> j * 4,
            <usize> Np * 4,
            c + (<usize> k * <usize> Np + <usize> j) * 4,
            <usize> Np * 4,
          );
        }
      }
    }
  }
}

// Phase 2: dW[ky][kx][k][n] = (Gᵀ (Σ_t partial_t) G)[ky][kx], split over k.
// Params: as wino_filter_grad, then dW parts.
export function wino_filter_grad_reduce(p: usize, tid: i32, nt: i32): void {
  const K = p32(p, 3), N = p32(p, 11);
  const partials = <usize> p32(p, 10);
  const dW = <usize> p32(p, 14), parts = p32(p, 15);
  const Np = roundUp(N, NR);
  const uPos = <usize> K * <usize> Np * 4;
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
