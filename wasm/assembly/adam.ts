// One fused Adam update per variable (Keras' rule, see src/train/adam.ts):
//
//   m' = beta1 m + (1 - beta1) g
//   v' = beta2 v + (1 - beta2) g²
//   w' = w - alpha m' / (sqrt(v') + epsilon)
//
// Seven tfjs element-wise ops per variable become one pass that reads four
// arrays and writes three, shared out over the pool's threads. Each
// operation rounds to f32 in the same order as the op-by-op version.

import { f32At, p32, splitRange } from "./params";
import { AdamUpdate } from "./blocks";

// Params: AdamUpdate.
export function adam_update(p: usize, tid: i32, nt: i32): void {
  const n = p32(p, AdamUpdate.n);
  const w = <usize> p32(p, AdamUpdate.w), g = <usize> p32(p, AdamUpdate.g);
  const m = <usize> p32(p, AdamUpdate.m), v = <usize> p32(p, AdamUpdate.v);
  const wo = <usize> p32(p, AdamUpdate.wOut);
  const mo = <usize> p32(p, AdamUpdate.mOut);
  const vo = <usize> p32(p, AdamUpdate.vOut);
  const alpha = f32At(p, AdamUpdate.alpha);
  const b1 = f32At(p, AdamUpdate.beta1);
  const c1 = f32At(p, AdamUpdate.oneMinusBeta1);
  const b2 = f32At(p, AdamUpdate.beta2);
  const c2 = f32At(p, AdamUpdate.oneMinusBeta2);
  const eps = f32At(p, AdamUpdate.epsilon);
  // Shares of whole 64-byte lines, so threads never write the same line.
  const share = splitRange(n, 16, tid, nt);
  const i0 = <i32> (share >> 32), i1 = <i32> share;
  const va = f32x4.splat(alpha), vb1 = f32x4.splat(b1), vc1 = f32x4.splat(c1);
  const vb2 = f32x4.splat(b2), vc2 = f32x4.splat(c2), ve = f32x4.splat(eps);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    const o = <usize> i * 4;
    const gi = v128.load(g + o);
    const mi = f32x4.add(f32x4.mul(v128.load(m + o), vb1), f32x4.mul(gi, vc1));
    const vi = f32x4.add(
      f32x4.mul(v128.load(v + o), vb2),
      f32x4.mul(f32x4.mul(gi, gi), vc2),
    );
    const step = f32x4.div(f32x4.mul(mi, va), f32x4.add(f32x4.sqrt(vi), ve));
    v128.store(wo + o, f32x4.sub(v128.load(w + o), step));
    v128.store(mo + o, mi);
    v128.store(vo + o, vi);
  }
  for (; i < i1; i++) {
    const o = <usize> i * 4;
    const gi = load<f32>(g + o);
    const mi = load<f32>(m + o) * b1 + gi * c1;
    const vi = load<f32>(v + o) * b2 + (gi * gi) * c2;
    store<f32>(wo + o, load<f32>(w + o) - (mi * alpha) / (sqrt<f32>(vi) + eps));
    store<f32>(mo + o, mi);
    store<f32>(vo + o, vi);
  }
}
