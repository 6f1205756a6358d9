// Inference batch normalization over the last axis (tfjs' FusedBatchNorm):
// out = (x - mean[c]) · scale[c] / sqrt(variance[c] + epsilon) + offset[c].
// Each thread first computes the per-channel multipliers into its own
// scratch, then streams its share of whole 64-byte lines of x.

import { f32At, p32, splitRange } from "./params";
import { BatchNorm } from "./blocks";

// Params: BatchNorm (offset, scale 0 = absent).
export function batch_norm(p: usize, tid: i32, nt: i32): void {
  const n = p32(p, BatchNorm.n), C = p32(p, BatchNorm.C);
  const x = <usize> p32(p, BatchNorm.x), out = <usize> p32(p, BatchNorm.out);
  const mean = <usize> p32(p, BatchNorm.mean);
  const variance = <usize> p32(p, BatchNorm.variance);
  const offset = <usize> p32(p, BatchNorm.offset);
  const scale = <usize> p32(p, BatchNorm.scale);
  const eps = f32At(p, BatchNorm.epsilon);
  const k = <usize> p32(p, BatchNorm.scratch) +
    <usize> tid * <usize> p32(p, BatchNorm.scratchStride);
  // k[0, C) multipliers, k[C, 2C) offsets, k[2C, 3C) means.
  const kOff = k + <usize> C * 4, kMean = k + <usize> C * 8;
  for (let c = 0; c < C; c++) {
    const o = <usize> c * 4;
    const s: f32 = scale ? load<f32>(scale + o) : 1;
    store<f32>(k + o, s / Mathf.sqrt(load<f32>(variance + o) + eps));
    store<f32>(kOff + o, offset ? load<f32>(offset + o) : 0);
    store<f32>(kMean + o, load<f32>(mean + o));
  }
  const share = splitRange(n, 16, tid, nt);
  const i0 = <i32> (share >> 32), i1 = <i32> share;
  let c = i0 % C;
  let i = i0;
  while (i < i1) {
    // A run to the end of the current pixel's channels.
    const len = min(i1 - i, C - c);
    let j = 0;
    for (; j + 4 <= len; j += 4) {
      const o = <usize> (i + j) * 4, q = <usize> (c + j) * 4;
      const v = f32x4.sub(v128.load(x + o), v128.load(kMean + q));
      v128.store(
        out + o,
        f32x4.add(f32x4.mul(v, v128.load(k + q)), v128.load(kOff + q)),
      );
    }
    for (; j < len; j++) {
      const o = <usize> (i + j) * 4, q = <usize> (c + j) * 4;
      store<f32>(
        out + o,
        (load<f32>(x + o) - load<f32>(kMean + q)) * load<f32>(k + q) +
          load<f32>(kOff + q),
      );
    }
    i += len;
    c += len;
    if (c == C) c = 0;
  }
}
