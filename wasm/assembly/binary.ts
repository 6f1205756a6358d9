// Element-wise binary ops with the broadcasts a BatchNormalization and an
// activation's gradient use: out[i] = op(a[i % ma], b[i % mb]), where an
// operand is the full tensor (m = n), a scalar (m = 1) or a row repeated
// along the leading axes, such as one value per channel of NHWC (m = C).

import { p32, splitRange } from "./params";
import { Binary } from "./blocks";

// The op codes of src/kernels/binary.ts.
const ADD = 0, SUB = 1, MUL = 2, DIV = 3, SQUARED_DIFFERENCE = 4;

@inline
function opv(op: i32, a: v128, b: v128): v128 {
  if (op == ADD) return f32x4.add(a, b);
  if (op == SUB) return f32x4.sub(a, b);
  if (op == MUL) return f32x4.mul(a, b);
  if (op == DIV) return f32x4.div(a, b);
  const d = f32x4.sub(a, b);
  return f32x4.mul(d, d);
}

@inline
function ops(op: i32, a: f32, b: f32): f32 {
  if (op == ADD) return a + b;
  if (op == SUB) return a - b;
  if (op == MUL) return a * b;
  if (op == DIV) return a / b;
  const d = a - b;
  return d * d;
}

// out[0, len) = op(a, b) over contiguous runs; `sa` / `sb` mark a scalar
// operand, read once.
@inline
function segment(
  op: i32,
  a: usize,
  sa: bool,
  b: usize,
  sb: bool,
  out: usize,
  len: i32,
): void {
  let k = 0;
  if (sa) {
    const va = f32x4.splat(load<f32>(a));
    for (; k + 4 <= len; k += 4) {
      const o = <usize> k * 4;
      v128.store(out + o, opv(op, va, v128.load(b + o)));
    }
  } else if (sb) {
    const vb = f32x4.splat(load<f32>(b));
    for (; k + 4 <= len; k += 4) {
      const o = <usize> k * 4;
      v128.store(out + o, opv(op, v128.load(a + o), vb));
    }
  } else {
    for (; k + 4 <= len; k += 4) {
      const o = <usize> k * 4;
      v128.store(out + o, opv(op, v128.load(a + o), v128.load(b + o)));
    }
  }
  for (; k < len; k++) {
    const x = load<f32>(a + (sa ? 0 : <usize> k * 4));
    const y = load<f32>(b + (sb ? 0 : <usize> k * 4));
    store<f32>(out + <usize> k * 4, ops(op, x, y));
  }
}

// Elements [i0, i1) of out, as runs over which both operands' indices
// advance by one (a repeated row ends a run where it wraps).
@inline
function run(
  op: i32,
  a: usize,
  ma: i32,
  b: usize,
  mb: i32,
  out: usize,
  i0: i32,
  i1: i32,
): void {
  let ja = i0 % ma, jb = i0 % mb;
  const sa = ma == 1, sb = mb == 1;
  for (let i = i0; i < i1;) {
    let len = i1 - i;
    if (!sa) len = min(len, ma - ja);
    if (!sb) len = min(len, mb - jb);
    segment(
      op,
      a + <usize> ja * 4,
      sa,
      b + <usize> jb * 4,
      sb,
      out + <usize> i * 4,
      len,
    );
    i += len;
    if (!sa) {
      ja += len;
      if (ja == ma) ja = 0;
    }
    if (!sb) {
      jb += len;
      if (jb == mb) jb = 0;
    }
  }
}

// Params: Binary. Threads take shares of whole 64-byte lines of out.
export function binary(p: usize, tid: i32, nt: i32): void {
  const op = p32(p, Binary.op);
  const n = p32(p, Binary.n);
  const a = <usize> p32(p, Binary.a), ma = p32(p, Binary.ma);
  const b = <usize> p32(p, Binary.b), mb = p32(p, Binary.mb);
  const out = <usize> p32(p, Binary.out);
  const share = splitRange(n, 16, tid, nt);
  const i0 = <i32> (share >> 32), i1 = <i32> share;
  if (i0 >= i1) return;
  // One loop per op, so the op is a constant in each vector body.
  if (op == ADD) run(ADD, a, ma, b, mb, out, i0, i1);
  else if (op == SUB) run(SUB, a, ma, b, mb, out, i0, i1);
  else if (op == MUL) run(MUL, a, ma, b, mb, out, i0, i1);
  else if (op == DIV) run(DIV, a, ma, b, mb, out, i0, i1);
  else run(SQUARED_DIFFERENCE, a, ma, b, mb, out, i0, i1);
}
