// Element-wise unary activations (erf, tanh, leaky relu, gelu) and gelu's
// gradient, four lanes at a time; erf and tanh on an exp built
// from a range reduction (x = n ln2 + r, |r| <= ln2/2) and a degree-6
// Taylor polynomial for e^r (truncation below 2e-7 relative). The tail
// goes through the same vector code on a splat, so results do not depend
// on how the elements are shared between threads.

import { f32At, p32, splitRange } from "./params";
import { GeluGrad, Unary } from "./blocks";

// The op codes of src/kernels/unary.ts.
const ERF = 0, TANH = 1, LEAKY_RELU = 2, GELU = 3;

const SQRT_HALF: f32 = 0.7071067811865476;
// 1 / sqrt(2 pi), of the normal density.
const INV_SQRT_2PI: f32 = 0.3989422804014327;

// Below this e^x is not a normal f32 (tfjs then gives a denormal or 0).
const EXP_LO: f32 = -87.33654;
// Above this e^x overflows to +Inf.
const EXP_HI: f32 = 88.72284;

// 2^k for integer lanes k in [-126, 127].
@inline
function pow2(k: v128): v128 {
  return i32x4.shl(i32x4.add(k, i32x4.splat(127)), 23);
}

// e^(xc - n ln2) for n = nearest(xc / ln2), in [1/sqrt 2, sqrt 2]: the
// part of e^xc that 2^n does not give. ln2 in two parts, so n * ln2_hi is
// exact.
@inline
function expScaled(xc: v128, n: v128): v128 {
  let r = f32x4.sub(xc, f32x4.mul(n, f32x4.splat(0.693145751953125)));
  r = f32x4.sub(r, f32x4.mul(n, f32x4.splat(1.428606765330187e-6)));
  let q = f32x4.splat(1.0 / 720);
  q = f32x4.add(f32x4.mul(q, r), f32x4.splat(1.0 / 120));
  q = f32x4.add(f32x4.mul(q, r), f32x4.splat(1.0 / 24));
  q = f32x4.add(f32x4.mul(q, r), f32x4.splat(1.0 / 6));
  q = f32x4.add(f32x4.mul(q, r), f32x4.splat(0.5));
  q = f32x4.add(f32x4.mul(q, r), f32x4.splat(1));
  return f32x4.add(f32x4.mul(q, r), f32x4.splat(1));
}

// e^x, lanes: 0 below EXP_LO, +Inf above EXP_HI, NaN stays NaN.
@inline
function expv(x: v128): v128 {
  // pmin/pmax are one instruction each on x86 (min/max, which order -0
  // before +0 and propagate NaN from either side, are about eight under
  // V8); here they agree: the bounds are far from zero and a NaN x passes
  // through both as the first operand.
  const xc = f32x4.pmin(f32x4.pmax(x, f32x4.splat(EXP_LO)), f32x4.splat(EXP_HI));
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.4426950408889634)));
  const q = expScaled(xc, n);
  // 2^n as two factors: n reaches 128 at EXP_HI, past 2^127.
  const ni = i32x4.trunc_sat_f32x4_s(n);
  const half = i32x4.shr_s(ni, 1);
  let y = f32x4.mul(f32x4.mul(q, pow2(half)), pow2(i32x4.sub(ni, half)));
  y = v128.bitselect(f32x4.splat(0), y, f32x4.lt(x, f32x4.splat(EXP_LO)));
  y = v128.bitselect(
    f32x4.splat(Infinity),
    y,
    f32x4.gt(x, f32x4.splat(EXP_HI)),
  );
  return v128.bitselect(x, y, f32x4.ne(x, x));
}

// e^x for x <= 0 or NaN (erf's and the normal density's e^{-x²}), lane for
// lane the bits of expv: 2^n needs one factor (n >= -126), and neither the
// upper clamp nor the NaN select is needed (a NaN passes pmax as the first
// operand and stays NaN). Ten operations fewer than expv: over
// 512x31x31x24 values, 2 threads, GELU 25.7 -> 20.8 ms and its gradient
// 27.2 -> 22.2 ms (medians of three alternated runs, EPYC AVX-512), with
// the same output bits (a million bit patterns, ±0, ±Inf, NaN included).
@inline
function expNeg(x: v128): v128 {
  const xc = f32x4.pmax(x, f32x4.splat(EXP_LO));
  const n = f32x4.nearest(f32x4.mul(xc, f32x4.splat(1.4426950408889634)));
  const q = expScaled(xc, n);
  const y = f32x4.mul(q, pow2(i32x4.trunc_sat_f32x4_s(n)));
  return v128.bitselect(f32x4.splat(0), y, f32x4.lt(x, f32x4.splat(EXP_LO)));
}

// erf by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7), the
// approximation tfjs' own kernels use.
@inline
function erfv(x: v128): v128 {
  const a = f32x4.abs(x);
  return erfWith(x, expNeg(f32x4.neg(f32x4.mul(a, a))));
}

// erf(x) given e = e^{-x²}, which GELU's gradient needs anyway (as the
// normal density's e^{-z²/2} at z = x sqrt 2): one exp instead of two.
@inline
function erfWith(x: v128, e: v128): v128 {
  const a = f32x4.abs(x);
  const t = f32x4.div(
    f32x4.splat(1),
    f32x4.add(f32x4.splat(1), f32x4.mul(f32x4.splat(0.3275911), a)),
  );
  let q = f32x4.splat(1.061405429);
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(-1.453152027));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(1.421413741));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(-0.284496736));
  q = f32x4.add(f32x4.mul(q, t), f32x4.splat(0.254829592));
  q = f32x4.mul(q, t);
  const y = f32x4.sub(f32x4.splat(1), f32x4.mul(q, e));
  // sign of x onto y (NaN stays NaN through a).
  return v128.or(y, v128.and(x, i32x4.splat(0x80000000)));
}

@inline
function apply(op: i32, x: v128, alpha: f32): v128 {
  const one = f32x4.splat(1), zero = f32x4.splat(0);
  if (op == ERF) return erfv(x);
  if (op == GELU) {
    // The op order of activations.ts' composite (x * 0.5) * (1 + erf(x /
    // sqrt 2)), so both give the same float32 results.
    const e = erfv(f32x4.mul(x, f32x4.splat(SQRT_HALF)));
    return f32x4.mul(f32x4.mul(x, f32x4.splat(0.5)), f32x4.add(one, e));
  }
  if (op == TANH) {
    // 1 - 2 / (e^{2|x|} + 1), signed; exact 1 once e^{2|x|} overflows.
    const e = expv(f32x4.mul(f32x4.abs(x), f32x4.splat(2)));
    const y = f32x4.sub(one, f32x4.div(f32x4.splat(2), f32x4.add(e, one)));
    return v128.or(y, v128.and(x, i32x4.splat(0x80000000)));
  }
  // LEAKY_RELU
  return v128.bitselect(
    f32x4.mul(x, f32x4.splat(alpha)),
    x,
    f32x4.lt(x, zero),
  );
}

// Params: Unary. Threads take shares of whole 64-byte lines.
export function unary(p: usize, tid: i32, nt: i32): void {
  const op = p32(p, Unary.op);
  const n = p32(p, Unary.n);
  const x = <usize> p32(p, Unary.x);
  const out = <usize> p32(p, Unary.out);
  const alpha = f32At(p, Unary.alpha);
  const share = splitRange(n, 16, tid, nt);
  const i0 = <i32> (share >> 32), i1 = <i32> share;
  // One loop per op (the op is a constant inside each), so the vector body
  // is straight-line code.
  if (op == ERF) run(ERF, x, out, i0, i1, alpha);
  else if (op == TANH) run(TANH, x, out, i0, i1, alpha);
  else if (op == GELU) run(GELU, x, out, i0, i1, alpha);
  else run(LEAKY_RELU, x, out, i0, i1, alpha);
}

@inline
function run(op: i32, x: usize, out: usize, i0: i32, i1: i32, alpha: f32): void {
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const o = <usize> i * 4;
    v128.store(out + o, apply(op, v128.load(x + o), alpha));
  }
  for (; i < i1; i++) {
    const o = <usize> i * 4;
    const y = apply(op, f32x4.splat(load<f32>(x + o)), alpha);
    store<f32>(out + o, f32x4.extract_lane(y, 0));
  }
}

// gelu'(x) = Φ(x) + x φ(x), with Φ(x) = (1 + erf(x / sqrt 2)) / 2 and
// φ(x) = e^{-x²/2} / sqrt(2 pi).
@inline
function geluSlope(x: v128): v128 {
  const z = f32x4.mul(x, f32x4.splat(SQRT_HALF));
  // e^{-z²} = e^{-x²/2}: erf's factor and the density's.
  const e = expNeg(f32x4.neg(f32x4.mul(z, z)));
  const cdf = f32x4.mul(f32x4.add(f32x4.splat(1), erfWith(z, e)), f32x4.splat(0.5));
  const pdf = f32x4.mul(e, f32x4.splat(INV_SQRT_2PI));
  return f32x4.add(cdf, f32x4.mul(x, pdf));
}

// dx = dy * gelu'(x) in one pass, instead of the dozen element-wise ops
// that differentiating the composite takes. Params: GeluGrad. Threads take
// shares of whole 64-byte lines.
export function gelu_grad(p: usize, tid: i32, nt: i32): void {
  const n = p32(p, GeluGrad.n);
  const dy = <usize> p32(p, GeluGrad.dy);
  const x = <usize> p32(p, GeluGrad.x);
  const dx = <usize> p32(p, GeluGrad.dx);
  const share = splitRange(n, 16, tid, nt);
  const i0 = <i32> (share >> 32), i1 = <i32> share;
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const o = <usize> i * 4;
    const s = geluSlope(v128.load(x + o));
    v128.store(dx + o, f32x4.mul(v128.load(dy + o), s));
  }
  for (; i < i1; i++) {
    const o = <usize> i * 4;
    const s = geluSlope(f32x4.splat(load<f32>(x + o)));
    store<f32>(dx + o, load<f32>(dy + o) * f32x4.extract_lane(s, 0));
  }
}
