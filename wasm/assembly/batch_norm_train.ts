// Training batch normalization over the last axis of x [rows, C]: the
// batch statistics, and the gradient with respect to x, gamma and beta.
//
// Sums over rows are kept in two levels: float32 vectors in registers over
// a block of BLOCK rows, then float64 per-thread partials (each on its own
// cache lines), added in thread order by the reduce phase. The statistics
// are one pass over x with a per-channel shift K = x[0, c]:
//   mean = K + Σ(x - K) / n,  variance = Σ(x - K)² / n - (Σ(x - K) / n)²,
// which stays accurate when |mean| is large against the deviation (the
// unshifted Σx² - n mean² loses the variance to cancellation).

import { f32At, lineUp, p32, splitRange } from "./params";
import { BatchNormGrad, BatchStats } from "./blocks";

// Rows per float32 block: short enough that a block's float32 sums lose
// nothing that matters (64 terms), long enough to amortise the float64
// partial updates.
const BLOCK: i32 = 64;

// dx's coefficients [A | B | D] (C floats each): right after the last
// thread's partial, where the host leaves room for them.
@inline
function coefOf(p: usize, C: i32): usize {
  return partialOf(
    <usize> p32(p, BatchNormGrad.partials),
    C,
    p32(p, BatchNormGrad.parts),
  );
}

// Per-thread partials of two float64 sums per channel: [C] then [C].
@inline
function partialOf(base: usize, C: i32, tid: i32): usize {
  return base + <usize> tid * lineUp(<usize> C * 16);
}

// part[c..c+3] += the four lanes of a, part[C + c..] += those of b, in
// float64 (a block's float32 sums, see pairSums).
@inline
function addF64(part: usize, C: i32, c: i32, a: v128, b: v128): void {
  const pa = part + <usize> c * 8, pb = part + <usize> (C + c) * 8;
  const aHi = v128.shuffle<f32>(a, a, 2, 3, 0, 1);
  const bHi = v128.shuffle<f32>(b, b, 2, 3, 0, 1);
  v128.store(pa, f64x2.add(v128.load(pa), f64x2.promote_low_f32x4(a)));
  v128.store(pa, f64x2.add(v128.load(pa, 16), f64x2.promote_low_f32x4(aHi)), 16);
  v128.store(pb, f64x2.add(v128.load(pb), f64x2.promote_low_f32x4(b)));
  v128.store(pb, f64x2.add(v128.load(pb, 16), f64x2.promote_low_f32x4(bHi)), 16);
}

// The same for one channel c's two sums.
@inline
function addScalars(part: usize, C: i32, c: i32, s1: f64, s2: f64): void {
  const pa = part + <usize> c * 8, pb = part + <usize> (C + c) * 8;
  store<f64>(pa, load<f64>(pa) + s1);
  store<f64>(pb, load<f64>(pb) + s2);
}

// Σ over the threads' partials (in thread order) of their sum i.
@inline
function partSum(partials: usize, C: i32, parts: i32, i: i32): f64 {
  let s: f64 = 0;
  for (let t = 0; t < parts; t++) {
    s += load<f64>(partialOf(partials, C, t) + <usize> i * 8);
  }
  return s;
}

// Phase 1 of both reductions, over this thread's rows of x [rows, C] into
// its partial: with d = x - ref[c],
//   grad false: Σ d and Σ d·d (ref: x's first row, the statistics' shift);
//   grad true:  Σ dy and Σ dy·d (ref: the mean).
// `grad` is a constant at each call, so each inlined copy is straight-line.
@inline
function pairSums(
  grad: bool,
  x: usize,
  dy: usize,
  ref: usize,
  part: usize,
  rows: i32,
  C: i32,
  tid: i32,
  nt: i32,
): void {
  memory.fill(part, 0, <usize> C * 16);
  const r = splitRange(rows, 1, tid, nt);
  const r0 = <i32> (r >> 32), r1 = <i32> r;
  const rowBytes = <usize> C * 4, c4 = C & ~3;
  for (let b0 = r0; b0 < r1; b0 += BLOCK) {
    const b1 = min(b0 + BLOCK, r1);
    for (let c = 0; c < c4; c += 4) {
      const k = v128.load(ref + <usize> c * 4);
      let s1 = f32x4.splat(0), s2 = f32x4.splat(0);
      const o0 = <usize> b0 * rowBytes + <usize> c * 4;
      let qx = x + o0, qg = dy + o0;
      for (let i = b0; i < b1; i++) {
        const d = f32x4.sub(v128.load(qx), k);
        const a = grad ? v128.load(qg) : d;
        s1 = f32x4.add(s1, a);
        s2 = f32x4.add(s2, f32x4.mul(a, d));
        qx += rowBytes;
        qg += rowBytes;
      }
      addF64(part, C, c, s1, s2);
    }
    for (let c = c4; c < C; c++) {
      const k = load<f32>(ref + <usize> c * 4);
      let s1: f64 = 0, s2: f64 = 0;
      for (let i = b0; i < b1; i++) {
        const o = <usize> i * rowBytes + <usize> c * 4;
        const d = load<f32>(x + o) - k;
        const a = grad ? load<f32>(dy + o) : d;
        s1 += <f64> a;
        s2 += <f64> (a * d);
      }
      addScalars(part, C, c, s1, s2);
    }
  }
}

// Phase 1 of the statistics: Σ(x - K) and Σ(x - K)² over this thread's
// rows into its partial. Params: BatchStats.
export function bn_stats(p: usize, tid: i32, nt: i32): void {
  const C = p32(p, BatchStats.C);
  const x = <usize> p32(p, BatchStats.x);
  const part = partialOf(<usize> p32(p, BatchStats.partials), C, tid);
  pairSums(false, x, 0, x, part, p32(p, BatchStats.rows), C, tid, nt);
}

// Phase 2: mean and (biased) variance per channel from the partials, split
// over channels. Params: BatchStats, as phase 1.
export function bn_stats_reduce(p: usize, tid: i32, nt: i32): void {
  const rows = p32(p, BatchStats.rows), C = p32(p, BatchStats.C);
  const x = <usize> p32(p, BatchStats.x);
  const partials = <usize> p32(p, BatchStats.partials);
  const parts = p32(p, BatchStats.parts);
  const mean = <usize> p32(p, BatchStats.mean);
  const variance = <usize> p32(p, BatchStats.variance);
  const n = <f64> rows;
  const r = splitRange(C, 1, tid, nt);
  for (let c = <i32> (r >> 32); c < <i32> r; c++) {
    const s1 = partSum(partials, C, parts, c);
    const s2 = partSum(partials, C, parts, C + c);
    const d = s1 / n;
    store<f32>(
      mean + <usize> c * 4,
      <f32> (<f64> load<f32>(x + <usize> c * 4) + d),
    );
    store<f32>(variance + <usize> c * 4, <f32> max(s2 / n - d * d, 0));
  }
}

// Gradient phase 1: Σ dy and Σ dy·(x - mean) over this thread's rows.
// Params: BatchNormGrad.
export function bn_grad_sums(p: usize, tid: i32, nt: i32): void {
  const C = p32(p, BatchNormGrad.C);
  const part = partialOf(<usize> p32(p, BatchNormGrad.partials), C, tid);
  pairSums(
    true,
    <usize> p32(p, BatchNormGrad.x),
    <usize> p32(p, BatchNormGrad.dy),
    <usize> p32(p, BatchNormGrad.mean),
    part,
    p32(p, BatchNormGrad.rows),
    C,
    tid,
    nt,
  );
}

// Gradient phase 2, split over channels: dbeta = Σ dy, dgamma = r Σ dy (x -
// mean) with r = 1 / sqrt(variance + epsilon), and the coefficients of
//   dx = gamma r (dy - dbeta / n - x̂ dgamma / n) = A dy + B x + D
// (x̂ = (x - mean) r): A = gamma r, B = -gamma r² dgamma / n,
// D = -gamma r dbeta / n - B mean, into coef [A | B | D], C floats each.
export function bn_grad_reduce(p: usize, tid: i32, nt: i32): void {
  const rows = p32(p, BatchNormGrad.rows), C = p32(p, BatchNormGrad.C);
  const partials = <usize> p32(p, BatchNormGrad.partials);
  const parts = p32(p, BatchNormGrad.parts);
  const mean = <usize> p32(p, BatchNormGrad.mean);
  const variance = <usize> p32(p, BatchNormGrad.variance);
  const gamma = <usize> p32(p, BatchNormGrad.gamma);
  const eps = <f64> f32At(p, BatchNormGrad.epsilon);
  const dgamma = <usize> p32(p, BatchNormGrad.dgamma);
  const dbeta = <usize> p32(p, BatchNormGrad.dbeta);
  const coef = coefOf(p, C);
  const n = <f64> rows;
  const r = splitRange(C, 1, tid, nt);
  for (let c = <i32> (r >> 32); c < <i32> r; c++) {
    const s1 = partSum(partials, C, parts, c);
    const s2 = partSum(partials, C, parts, C + c);
    const o = <usize> c * 4;
    const inv = 1 / Math.sqrt(<f64> load<f32>(variance + o) + eps);
    const g = gamma ? <f64> load<f32>(gamma + o) : 1;
    const dg = inv * s2;
    const a = g * inv, bx = -g * inv * inv * dg / n;
    store<f32>(dbeta + o, <f32> s1);
    store<f32>(dgamma + o, <f32> dg);
    store<f32>(coef + o, <f32> a);
    store<f32>(coef + <usize> C * 4 + o, <f32> bx);
    store<f32>(
      coef + <usize> C * 8 + o,
      <f32> (-a * s1 / n - bx * <f64> load<f32>(mean + o)),
    );
  }
}

// Gradient phase 3: dx = A dy + B x + D per channel, threads over whole
// 16-float runs of the flattened tensor. Params: BatchNormGrad.
export function bn_grad_dx(p: usize, tid: i32, nt: i32): void {
  const rows = p32(p, BatchNormGrad.rows), C = p32(p, BatchNormGrad.C);
  const x = <usize> p32(p, BatchNormGrad.x);
  const dy = <usize> p32(p, BatchNormGrad.dy);
  const dx = <usize> p32(p, BatchNormGrad.dx);
  const kA = coefOf(p, C);
  const kB = kA + <usize> C * 4, kD = kA + <usize> C * 8;
  const share = splitRange(rows * C, 16, tid, nt);
  const i0 = <i32> (share >> 32), i1 = <i32> share;
  let c = i0 % C;
  let i = i0;
  while (i < i1) {
    // A run to the end of the current row's channels.
    const len = min(i1 - i, C - c);
    let j = 0;
    for (; j + 4 <= len; j += 4) {
      const o = <usize> (i + j) * 4, q = <usize> (c + j) * 4;
      v128.store(
        dx + o,
        f32x4.add(
          f32x4.add(
            f32x4.mul(v128.load(dy + o), v128.load(kA + q)),
            f32x4.mul(v128.load(x + o), v128.load(kB + q)),
          ),
          v128.load(kD + q),
        ),
      );
    }
    for (; j < len; j++) {
      const o = <usize> (i + j) * 4, q = <usize> (c + j) * 4;
      store<f32>(
        dx + o,
        load<f32>(dy + o) * load<f32>(kA + q) +
          load<f32>(x + o) * load<f32>(kB + q) + load<f32>(kD + q),
      );
    }
    i += len;
    c += len;
    if (c == C) c = 0;
  }
}
