// Winograd F(4x4, 3x3), shared parts: the filter and input transforms.
//
// F(4x4, 3x3) computes each 4x4 block of outputs of a stride-1 3x3
// convolution with 36 multiplies per channel pair instead of 144, with
// interpolation points 0, ±1, ±2, ∞:
//
//   Y = Aᵀ [ Σ_k (G g Gᵀ) ⊙ (Bᵀ d B) ] A,   d a 6x6 patch
//
// The transforms scale by up to 8, so results differ from a direct
// convolution by about 1e-6 of their magnitude (5e-6 per channel pair in a
// float32 check). The forward pass is in winograd_conv.ts, the filter
// gradient in winograd_grad.ts; the input gradient is a forward pass with
// the flipped, transposed filter.

import { NR } from "./gemm";
import { p32 } from "./params";
import { WinoFilter } from "./blocks";

// Bytes added to every per-position stride of the Winograd buffers. With
// 128 channels a block's position stride is a power of two (4 KiB for 8
// tiles), so the 36 positions of one tile fell into one L1 set and evicted
// each other; one cache line of skew spreads them over 36 sets. Measured at
// 512x7x7x128->128, 1 thread: input transform 18.8 -> 3.5 ms, output
// transform 5.9 -> 2.9 ms, whole forward convolution 97 -> 80 ms.
export const POS_SKEW: usize = 64;

export function roundUp(n: i32, m: i32): i32 {
  return (n + m - 1) / m * m;
}

// Per-thread scratch bytes of a block of `tb` tiles: 36 skewed positions of
// transformed inputs (Kp channels) and of products or output gradients (Np),
// then 72 vectors of transform temporaries. The host sizes its scratch with
// wino_conv_scratch / wino_grad_scratch below, so block sizes live here only.
export function blockScratch(tb: i32, Kp: i32, Np: i32): i32 {
  return 36 * (tb * (Kp + Np) * 4 + 2 * <i32> POS_SKEW) + 72 * 16;
}

// Bytes from one position of the transformed filter to the next: Kp x Np
// floats and a cache line of skew, as the block buffers (with 128 x 128
// channels the 36 positions were 64 KiB apart, one L1 set).
@inline
export function filterPos(Kp: i32, Np: i32): usize {
  return <usize> Kp * <usize> Np * 4 + POS_SKEW;
}

// Bytes of the transformed filter panels (host-called).
export function wino_filter_bytes(K: i32, N: i32): i32 {
  return 36 * <i32> filterPos(roundUp(K, 4), roundUp(N, NR));
}

// G g for three taps (a, b, c) of four filters along one axis, written to
// dst + i * s: the six rows in the order of the row-major G (wasm never
// contracts a multiply and an add, so every build rounds alike).
@inline
function g6(a: v128, b: v128, c: v128, dst: usize, s: usize): void {
  const sixth = f32x4.splat(-1.0 / 6.0);
  const a24 = f32x4.mul(a, f32x4.splat(1.0 / 24.0));
  const b12 = f32x4.mul(b, f32x4.splat(1.0 / 12.0));
  const c6 = f32x4.mul(c, f32x4.splat(1.0 / 6.0));
  v128.store(dst, f32x4.mul(a, f32x4.splat(0.25)));
  v128.store(dst + s, f32x4.mul(f32x4.add(f32x4.add(a, b), c), sixth));
  v128.store(dst + 2 * s, f32x4.mul(f32x4.add(f32x4.sub(a, b), c), sixth));
  v128.store(dst + 3 * s, f32x4.add(f32x4.add(a24, b12), c6));
  v128.store(dst + 4 * s, f32x4.add(f32x4.sub(a24, b12), c6));
  v128.store(dst + 5 * s, c);
}

// Copies the taps of input channels k..k+3 and outputs n..n+3 into the
// slots of positions (ky, kx) of rows k..k+3 of the panel at dst (rows
// NR * 4 bytes apart, positions ps apart), as vectors over n; lanes past K
// or N are 0.
// flip = 0: g[ky][kx][k][n] = w[ky][kx][k][n] (w is [3][3][K][N]).
// flip = 1: g[ky][kx][k][n] = w[2 - ky][2 - kx][n][k] (w is [3][3][N][K]):
// four rows over k, transposed to vectors over n.
function copyTaps(
  w: usize, K: i32, N: i32, k: i32, n: i32, flip: bool, dst: usize, ps: usize,
): void {
  const whole = k + 4 <= K && n + 4 <= N;
  const row = <usize> (NR * 4);
  for (let tap = 0; tap < 9; tap++) {
    const d = dst + <usize> ((tap / 3) * 6 + tap % 3) * ps;
    if (whole && !flip) {
      const q = w + ((<usize> tap * <usize> K + <usize> k) * <usize> N + <usize> n) * 4;
      for (let i = 0; i < 4; i++) {
        v128.store(d + <usize> i * row, v128.load(q + <usize> i * <usize> N * 4));
      }
    } else if (whole) {
      const q = w + ((<usize> (8 - tap) * <usize> N + <usize> n) * <usize> K + <usize> k) * 4;
      const r0 = v128.load(q), r1 = v128.load(q + <usize> K * 4);
      const r2 = v128.load(q + <usize> K * 8), r3 = v128.load(q + <usize> K * 12);
      const t0 = v128.shuffle<u32>(r0, r1, 0, 4, 1, 5);
      const t1 = v128.shuffle<u32>(r2, r3, 0, 4, 1, 5);
      const t2 = v128.shuffle<u32>(r0, r1, 2, 6, 3, 7);
      const t3 = v128.shuffle<u32>(r2, r3, 2, 6, 3, 7);
      v128.store(d, v128.shuffle<u64>(t0, t1, 0, 2));
      v128.store(d + row, v128.shuffle<u64>(t0, t1, 1, 3));
      v128.store(d + 2 * row, v128.shuffle<u64>(t2, t3, 0, 2));
      v128.store(d + 3 * row, v128.shuffle<u64>(t2, t3, 1, 3));
    } else {
      for (let i = 0; i < 4; i++) {
        for (let j = 0; j < 4; j++) {
          const kk = k + i, nn = n + j;
          let v: f32 = 0;
          if (kk < K && nn < N) {
            const at = flip
              ? (<usize> (8 - tap) * <usize> N + <usize> nn) * <usize> K + <usize> kk
              : (<usize> tap * <usize> K + <usize> kk) * <usize> N + <usize> nn;
            v = load<f32>(w + at * 4);
          }
          store<f32>(d + <usize> i * row + <usize> j * 4, v);
        }
      }
    }
  }
}

// Filter transform U = G g Gᵀ into panels u[pos][n / NR][k][NR] for the 36
// positions (filterPos apart), zero-padded in n up to Np and in k up to Kp
// (K rounded up to 4), four filters n per vector. The taps go into the
// slots of positions (ky, kx) first; then G down each column kx into the
// slots (r, kx), then along each row r in place (a g6 reads its three
// inputs before it writes). Threads split over k in fours. It had been a
// scalar loop whose 36 stores per filter were 64 KiB apart (one L1 set):
// with fresh filters, as in training, 512x3x3x128->128 on 2 threads took
// 11.7 ms against 6.6 with the transformed filter cached; now 6.9-7.8
// (same output bits; median of 7 calls, two alternated runs, EPYC
// AVX-512).
// Params: WinoFilter.
export function wino_filter(p: usize, tid: i32, nt: i32): void {
  const K = p32(p, WinoFilter.K), N = p32(p, WinoFilter.N);
  const w = <usize> p32(p, WinoFilter.w);
  const u = <usize> p32(p, WinoFilter.u);
  const flip = p32(p, WinoFilter.flip) != 0;
  const Np = roundUp(N, NR), Kp = roundUp(K, 4);
  const ps = filterPos(Kp, Np);
  const per = roundUp((Kp + nt - 1) / nt, 4);
  const k0 = tid * per, k1 = min(Kp, k0 + per);
  for (let k = k0; k < k1; k += 4) {
    for (let n = 0; n < Np; n += 4) {
      const panel = u + <usize> (n / NR) * <usize> Kp * <usize> (NR * 4) +
        <usize> (n % NR) * 4 + <usize> k * <usize> (NR * 4);
      copyTaps(w, K, N, k, n, flip, panel, ps);
      for (let i = 0; i < 4; i++) {
        const dst = panel + <usize> i * <usize> (NR * 4);
        for (let kx = 0; kx < 3; kx++) {
          const q = dst + <usize> kx * ps;
          g6(v128.load(q), v128.load(q + 6 * ps), v128.load(q + 12 * ps), q, 6 * ps);
        }
        for (let r = 0; r < 6; r++) {
          const q = dst + <usize> (r * 6) * ps;
          g6(v128.load(q), v128.load(q + ps), v128.load(q + 2 * ps), q, ps);
        }
      }
    }
  }
}

// Bᵀ applied to six vectors along one axis, written to dst + i * s.
@inline
function bt6(
  d0: v128, d1: v128, d2: v128, d3: v128, d4: v128, d5: v128,
  dst: usize, s: usize,
): void {
  const two = f32x4.splat(2), four = f32x4.splat(4), five = f32x4.splat(5);
  v128.store(dst, f32x4.add(f32x4.sub(f32x4.mul(d0, four), f32x4.mul(d2, five)), d4));
  v128.store(dst + s, f32x4.sub(f32x4.add(d3, d4), f32x4.mul(f32x4.add(d1, d2), four)));
  v128.store(dst + 2 * s, f32x4.add(f32x4.sub(d4, d3), f32x4.mul(f32x4.sub(d1, d2), four)));
  const a = f32x4.sub(d4, d2), b = f32x4.mul(f32x4.sub(d3, d1), two);
  v128.store(dst + 3 * s, f32x4.add(a, b));
  v128.store(dst + 4 * s, f32x4.sub(a, b));
  v128.store(dst + 5 * s, f32x4.add(f32x4.sub(f32x4.mul(d1, four), f32x4.mul(d3, five)), d5));
}

@inline
export function ldm(p: usize, on: bool): v128 {
  return on ? v128.load(p) : f32x4.splat(0);
}

// V = Bᵀ d B for one 6x6 patch of four channels into v + pos * ps. `x`
// addresses patch pixel (0, 0); bit i of rows (j of cols) is set when patch
// row i (column j) is inside the image. tmp holds 36 vectors.
@inline
export function inputTile(
  x: usize, rs: usize, cs: usize, rows: i32, cols: i32,
  v: usize, ps: usize, tmp: usize,
): void {
  for (let j = 0; j < 6; j++) {
    const q = x + <usize> j * cs;
    if (((cols >> j) & 1) == 0) {
      bt6(f32x4.splat(0), f32x4.splat(0), f32x4.splat(0), f32x4.splat(0), f32x4.splat(0), f32x4.splat(0), tmp + <usize> j * 16, 96);
      continue;
    }
    bt6(
      ldm(q, (rows & 1) != 0),
      ldm(q + rs, (rows & 2) != 0),
      ldm(q + 2 * rs, (rows & 4) != 0),
      ldm(q + 3 * rs, (rows & 8) != 0),
      ldm(q + 4 * rs, (rows & 16) != 0),
      ldm(q + 5 * rs, (rows & 32) != 0),
      tmp + <usize> j * 16,
      96,
    );
  }
  for (let i = 0; i < 6; i++) {
    const q = tmp + <usize> i * 96;
    bt6(
      v128.load(q), v128.load(q, 16), v128.load(q, 32),
      v128.load(q, 48), v128.load(q, 64), v128.load(q, 80),
      v + <usize> (i * 6) * ps,
      ps,
    );
  }
}

// Transforms the 6x6 input patches of output tiles [t0, t0 + tb) into
// v[pos][t][Kp]. A last group of fewer than four channels goes through a
// zero-padded copy, so the lane of the next pixel never enters the sums.
// tmp holds 72 vectors.
export function transformInputs(
  x: usize,
  H: i32,
  W: i32,
  K: i32,
  padT: i32,
  padL: i32,
  tw: i32,
  th: i32,
  t0: i32,
  tb: i32,
  v: usize,
  vPos: usize,
  tmp: usize,
): void {
  const Kp = roundUp(K, 4), K4 = K & ~3, tail = K - K4;
  const rs = <usize> W * <usize> K * 4, cs = <usize> K * 4;
  const lanes = i32x4(-1, tail > 1 ? -1 : 0, tail > 2 ? -1 : 0, 0);
  const patch = tmp + 576;
  const zero = f32x4.splat(0);
  for (let t = 0; t < tb; t++) {
    const tile = t0 + t;
    const tx = tile % tw, rest = tile / tw;
    const ty = rest % th, b = rest / th;
    const y0 = ty * 4 - padT, x0 = tx * 4 - padL;
    let rows = 0, cols = 0;
    for (let i = 0; i < 6; i++) {
      if (y0 + i >= 0 && y0 + i < H) rows |= 1 << i;
      if (x0 + i >= 0 && x0 + i < W) cols |= 1 << i;
    }
    const src = <usize> (<isize> x +
      ((<isize> b * <isize> H + <isize> y0) * <isize> W + <isize> x0) *
        <isize> K * 4);
    const dst = v + <usize> t * <usize> Kp * 4;
    for (let c = 0; c < K4; c += 4) {
      inputTile(src + <usize> c * 4, rs, cs, rows, cols, dst + <usize> c * 4, vPos, tmp);
    }
    if (tail) {
      for (let i = 0; i < 6; i++) {
        for (let j = 0; j < 6; j++) {
          const on = ((rows >> i) & (cols >> j) & 1) != 0;
          const q = src + <usize> i * rs + <usize> j * cs + <usize> K4 * 4;
          v128.store(
            patch + <usize> ((i * 6 + j) * 16),
            on ? v128.and(v128.load(q), lanes) : zero,
          );
        }
      }
      inputTile(patch, 96, 16, 63, 63, dst + <usize> K4 * 4, vPos, tmp);
    }
  }
}
