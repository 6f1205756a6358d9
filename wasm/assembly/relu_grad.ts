// The gradient through a relu from its output y: dx = dy * step(y), with
// tfjs' Step semantics (1 where y > 0, 0 elsewhere, NaN where y is NaN), in
// one pass instead of tfjs' Step and Multiply.

import { p32, splitRange } from "./params";
import { ReluGrad } from "./blocks";

// Params: ReluGrad. Threads take shares of whole 64-byte lines.
export function relu_grad(p: usize, tid: i32, nt: i32): void {
  const n = p32(p, ReluGrad.n);
  const dy = <usize> p32(p, ReluGrad.dy);
  const y = <usize> p32(p, ReluGrad.y);
  const dx = <usize> p32(p, ReluGrad.dx);
  const share = splitRange(n, 16, tid, nt);
  const i0 = <i32> (share >> 32), i1 = <i32> share;
  const one = f32x4.splat(1), zero = f32x4.splat(0);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const o = <usize> i * 4;
    const yv = v128.load(y + o);
    let s = v128.bitselect(one, zero, f32x4.gt(yv, zero));
    s = v128.bitselect(yv, s, f32x4.ne(yv, yv));
    v128.store(dx + o, f32x4.mul(v128.load(dy + o), s));
  }
  for (; i < i1; i++) {
    const o = <usize> i * 4;
    const yv = load<f32>(y + o);
    const s: f32 = isNaN(yv) ? yv : yv > 0 ? 1 : 0;
    store<f32>(dx + o, load<f32>(dy + o) * s);
  }
}
