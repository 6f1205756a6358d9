// Element-wise binary ops with the broadcasts a BatchNormalization and an
// activation's gradient use: out[i] = op(a[i % ma], b[i % mb]), where an
// operand is the full tensor (m = n), a scalar (m = 1) or a row repeated
// along the leading axes, such as one value per channel of NHWC (m = C).

import { p32 } from "./params";
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

// Elements [i0, i1) of out; i0 a multiple of 16, so with periods that are
// 1, n or multiples of 4 a vector never straddles the end of a row.
@inline
function run(
  p0: usize,
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
  let i = i0;
  const n = p32(p0, Binary.n);
  // A full operand (m = n) never wraps inside the vector loop.
  if (
    (ma == 1 || ma == n || (ma & 3) == 0) &&
    (mb == 1 || mb == n || (mb & 3) == 0)
  ) {
    const sa = ma == 1, sb = mb == 1;
    const va = f32x4.splat(load<f32>(a)), vb = f32x4.splat(load<f32>(b));
    for (; i + 4 <= i1; i += 4) {
      const x = sa ? va : v128.load(a + <usize> ja * 4);
      const y = sb ? vb : v128.load(b + <usize> jb * 4);
      v128.store(out + <usize> i * 4, opv(op, x, y));
      ja += 4;
      if (ja >= ma) ja = 0;
      jb += 4;
      if (jb >= mb) jb = 0;
    }
  }
  for (; i < i1; i++) {
    store<f32>(
      out + <usize> i * 4,
      ops(op, load<f32>(a + <usize> ja * 4), load<f32>(b + <usize> jb * 4)),
    );
    if (++ja == ma) ja = 0;
    if (++jb == mb) jb = 0;
  }
}

// Params: Binary. Threads take shares of whole 64-byte lines of out.
export function binary(p: usize, tid: i32, nt: i32): void {
  const op = p32(p, Binary.op);
  const n = p32(p, Binary.n);
  const a = <usize> p32(p, Binary.a), ma = p32(p, Binary.ma);
  const b = <usize> p32(p, Binary.b), mb = p32(p, Binary.mb);
  const out = <usize> p32(p, Binary.out);
  const lines = (n + 15) >> 4;
  const per = lines / nt, extra = lines % nt;
  const l0 = tid * per + min(tid, extra);
  const i0 = min(n, l0 * 16);
  const i1 = min(n, (l0 + per + (tid < extra ? 1 : 0)) * 16);
  if (i0 >= i1) return;
  // One loop per op, so the op is a constant in each vector body.
  if (op == ADD) run(p, ADD, a, ma, b, mb, out, i0, i1);
  else if (op == SUB) run(p, SUB, a, ma, b, mb, out, i0, i1);
  else if (op == MUL) run(p, MUL, a, ma, b, mb, out, i0, i1);
  else if (op == DIV) run(p, DIV, a, ma, b, mb, out, i0, i1);
  else run(p, SQUARED_DIFFERENCE, a, ma, b, mb, out, i0, i1);
}
