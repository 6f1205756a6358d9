// Dropout masks from a counter-based hash: element i keeps its activation
// when u_i = (h(seed, i) >>> 8) / 2^24 >= rate, and the mask holds
// 1 / (1 - rate) there and 0 elsewhere. Every element is independent of
// the others, so threads split the work freely and the JS version in
// src/nn/dropout_mask.ts produces the same mask bit for bit on any backend.
//
// h is a multiply-xorshift mix of seed + i * golden ratio (the "lowbias32"
// constants found by Chris Wellons' hash prospector).

import { f32At, p32, splitRange } from "./params";
import { DropoutMask } from "./blocks";

// Params: DropoutMask.
export function dropout_mask(p: usize, tid: i32, nt: i32): void {
  const n = p32(p, DropoutMask.n);
  const out = <usize> p32(p, DropoutMask.out);
  const seed = p32(p, DropoutMask.seed);
  const rate = f32At(p, DropoutMask.rate), scale = f32At(p, DropoutMask.scale);
  const share = splitRange(n, 16, tid, nt);
  const i0 = <i32> (share >> 32), i1 = <i32> share;
  const golden = i32x4.splat(0x9e3779b9);
  const k1 = i32x4.splat(0x21f0aaad), k2 = i32x4.splat(0x735a2d97);
  const vseed = i32x4.splat(seed);
  const vrate = f32x4.splat(rate), vscale = f32x4.splat(scale);
  const inv = f32x4.splat(1.0 / 16777216.0);
  let idx = i32x4(i0, i0 + 1, i0 + 2, i0 + 3);
  const four = i32x4.splat(4);
  let i = i0;
  for (; i + 4 <= i1; i += 4) {
    let h = i32x4.add(vseed, i32x4.mul(idx, golden));
    h = v128.xor(h, i32x4.shr_u(h, 16));
    h = i32x4.mul(h, k1);
    h = v128.xor(h, i32x4.shr_u(h, 15));
    h = i32x4.mul(h, k2);
    h = v128.xor(h, i32x4.shr_u(h, 15));
    const u = f32x4.mul(f32x4.convert_i32x4_u(i32x4.shr_u(h, 8)), inv);
    v128.store(out + <usize> i * 4, v128.and(f32x4.ge(u, vrate), vscale));
    idx = i32x4.add(idx, four);
  }
  for (; i < i1; i++) {
    let h: u32 = <u32> seed + <u32> i * 0x9e3779b9;
    h ^= h >> 16;
    h *= 0x21f0aaad;
    h ^= h >> 15;
    h *= 0x735a2d97;
    h ^= h >> 15;
    const u = <f32> (h >> 8) * (1.0 / 16777216.0);
    store<f32>(out + <usize> i * 4, u >= rate ? scale : 0);
  }
}
