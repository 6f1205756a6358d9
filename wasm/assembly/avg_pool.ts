// Average pooling, forward and gradient, over NHWC images, four channels
// per vector, with tfjs' semantics: the forward pass averages the pixels of
// each window that lie inside the image; the gradient (tfjs' AvgPoolGrad)
// spreads each dy over its whole window with weight 1 / (fh fw), padding
// included.

import { f32At, p32, splitRange } from "./params";
import { AvgPool, AvgPoolGrad } from "./blocks";

// Params: AvgPool. Threads split over output rows (image, oy).
export function avg_pool(p: usize, tid: i32, nt: i32): void {
  const H = p32(p, AvgPool.H), W = p32(p, AvgPool.W), C = p32(p, AvgPool.C);
  const OH = p32(p, AvgPool.OH), OW = p32(p, AvgPool.OW);
  const fh = p32(p, AvgPool.fh), fw = p32(p, AvgPool.fw);
  const sh = p32(p, AvgPool.sh), sw = p32(p, AvgPool.sw);
  const padT = p32(p, AvgPool.padT), padL = p32(p, AvgPool.padL);
  const x = <usize> p32(p, AvgPool.x), out = <usize> p32(p, AvgPool.out);
  const r = splitRange(p32(p, AvgPool.B) * OH, 1, tid, nt);
  const c4 = C & ~3;
  const rowBytes = <usize> W * <usize> C * 4, px = <usize> C * 4;
  for (let row = <i32> (r >> 32); row < <i32> r; row++) {
    const b = row / OH, oy = row % OH;
    const img = x + <usize> b * <usize> H * rowBytes;
    const y0 = max(oy * sh - padT, 0), y1 = min(oy * sh - padT + fh, H);
    const o = out + <usize> row * <usize> OW * px;
    for (let ox = 0; ox < OW; ox++) {
      const x0 = max(ox * sw - padL, 0), x1 = min(ox * sw - padL + fw, W);
      const count = max(0, y1 - y0) * max(0, x1 - x0);
      const inv = f32x4.splat(<f32> 1 / <f32> count);
      const d = o + <usize> ox * px;
      for (let c = 0; c < c4; c += 4) {
        let s = f32x4.splat(0);
        for (let y = y0; y < y1; y++) {
          let q = img + <usize> y * rowBytes + <usize> x0 * px + <usize> c * 4;
          for (let xx = x0; xx < x1; xx++) {
            s = f32x4.add(s, v128.load(q));
            q += px;
          }
        }
        v128.store(d + <usize> c * 4, f32x4.mul(s, inv));
      }
      for (let c = c4; c < C; c++) {
        let s: f32 = 0;
        for (let y = y0; y < y1; y++) {
          for (let xx = x0; xx < x1; xx++) {
            s += load<f32>(img + <usize> y * rowBytes + <usize> xx * px + <usize> c * 4);
          }
        }
        store<f32>(d + <usize> c * 4, s * f32x4.extract_lane(inv, 0));
      }
    }
  }
}

// Params: AvgPoolGrad. dx[iy, ix] = scale · Σ dy over the windows holding
// (iy, ix), gathered per input pixel, so threads split over input rows
// and write only their own.
export function avgpool_grad(p: usize, tid: i32, nt: i32): void {
  const H = p32(p, AvgPoolGrad.H), W = p32(p, AvgPoolGrad.W);
  const C = p32(p, AvgPoolGrad.C);
  const OH = p32(p, AvgPoolGrad.OH), OW = p32(p, AvgPoolGrad.OW);
  const fh = p32(p, AvgPoolGrad.fh), fw = p32(p, AvgPoolGrad.fw);
  const sh = p32(p, AvgPoolGrad.sh), sw = p32(p, AvgPoolGrad.sw);
  const padT = p32(p, AvgPoolGrad.padT), padL = p32(p, AvgPoolGrad.padL);
  const dy = <usize> p32(p, AvgPoolGrad.dy);
  const dx = <usize> p32(p, AvgPoolGrad.dx);
  const scale = f32x4.splat(f32At(p, AvgPoolGrad.scale));
  const r = splitRange(p32(p, AvgPoolGrad.B) * H, 1, tid, nt);
  const c4 = C & ~3;
  const px = <usize> C * 4;
  for (let row = <i32> (r >> 32); row < <i32> r; row++) {
    const b = row / H, iy = row % H;
    // Windows oy with oy sh - padT <= iy < oy sh - padT + fh.
    const ty = iy + padT;
    const oy0 = max(0, ty - fh + sh >= 0 ? (ty - fh + sh) / sh : 0);
    const oy1 = min(OH, ty / sh + 1);
    const g = dy + <usize> b * <usize> OH * <usize> OW * px;
    for (let ix = 0; ix < W; ix++) {
      const tx = ix + padL;
      const ox0 = max(0, tx - fw + sw >= 0 ? (tx - fw + sw) / sw : 0);
      const ox1 = min(OW, tx / sw + 1);
      const d = dx + (<usize> row * <usize> W + <usize> ix) * px;
      for (let c = 0; c < c4; c += 4) {
        let s = f32x4.splat(0);
        for (let oy = oy0; oy < oy1; oy++) {
          for (let ox = ox0; ox < ox1; ox++) {
            s = f32x4.add(
              s,
              v128.load(g + (<usize> oy * <usize> OW + <usize> ox) * px + <usize> c * 4),
            );
          }
        }
        v128.store(d + <usize> c * 4, f32x4.mul(s, scale));
      }
      for (let c = c4; c < C; c++) {
        let s: f32 = 0;
        for (let oy = oy0; oy < oy1; oy++) {
          for (let ox = ox0; ox < ox1; ox++) {
            s += load<f32>(g + (<usize> oy * <usize> OW + <usize> ox) * px + <usize> c * 4);
          }
        }
        store<f32>(d + <usize> c * 4, s * f32x4.extract_lane(scale, 0));
      }
    }
  }
}
