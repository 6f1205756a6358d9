// Depthwise convolution over NHWC (tfjs' DepthwiseConv2dNative): with a
// channel multiplier M, output channel j = c * M + m reads input channel
// c = j / M through filter[ky, kx, c, m], which is filter[ky, kx, j] when
// the filter is read as [fh, fw, C * M]. M = 1 (Keras' default) runs four
// channels per vector; other multipliers a channel at a time.
//
// All four entries read one block: the forward pass (x, f -> y), the input
// gradient (y = dy, f -> dx), and the filter gradient as per-thread
// partials over the thread's output rows (x, y = dy -> partials), then
// their sum (partials -> df).

import { lineUp, p32, splitRange } from "./params";
import { Depthwise } from "./blocks";

// Forward. Threads split over output rows (image, oy).
export function depthwise_conv(p: usize, tid: i32, nt: i32): void {
  const H = p32(p, Depthwise.H), W = p32(p, Depthwise.W);
  const C = p32(p, Depthwise.C), M = p32(p, Depthwise.M);
  const OH = p32(p, Depthwise.OH), OW = p32(p, Depthwise.OW);
  const fh = p32(p, Depthwise.fh), fw = p32(p, Depthwise.fw);
  const sh = p32(p, Depthwise.sh), sw = p32(p, Depthwise.sw);
  const dh = p32(p, Depthwise.dh), dw = p32(p, Depthwise.dw);
  const padT = p32(p, Depthwise.padT), padL = p32(p, Depthwise.padL);
  const x = <usize> p32(p, Depthwise.x), f = <usize> p32(p, Depthwise.f);
  const y = <usize> p32(p, Depthwise.y);
  const CM = C * M;
  const r = splitRange(p32(p, Depthwise.B) * OH, 1, tid, nt);
  for (let row = <i32> (r >> 32); row < <i32> r; row++) {
    const b = row / OH, oy = row - b * OH;
    const xi = x + <usize> (b * H * W * C) * 4;
    for (let ox = 0; ox < OW; ox++) {
      const yo = y + <usize> ((row * OW + ox) * CM) * 4;
      memory.fill(yo, 0, <usize> CM * 4);
      for (let ky = 0; ky < fh; ky++) {
        const iy = oy * sh - padT + ky * dh;
        if (iy < 0 || iy >= H) continue;
        for (let kx = 0; kx < fw; kx++) {
          const ix = ox * sw - padL + kx * dw;
          if (ix < 0 || ix >= W) continue;
          const xp = xi + <usize> ((iy * W + ix) * C) * 4;
          const fp = f + <usize> ((ky * fw + kx) * CM) * 4;
          let j = 0;
          if (M == 1) {
            for (; j + 4 <= CM; j += 4) {
              const o = <usize> j * 4;
              v128.store(
                yo + o,
                f32x4.add(
                  v128.load(yo + o),
                  f32x4.mul(v128.load(xp + o), v128.load(fp + o)),
                ),
              );
            }
          }
          for (; j < CM; j++) {
            const o = <usize> j * 4;
            store<f32>(
              yo + o,
              load<f32>(yo + o) +
                load<f32>(xp + <usize> (j / M) * 4) * load<f32>(fp + o),
            );
          }
        }
      }
    }
  }
}

// Input gradient: dx[iy, ix, c] = Σ dy[oy, ox, c M + m] f[ky, kx, c M + m]
// over the taps that reach (iy, ix). Threads split over input rows.
export function depthwise_input_grad(p: usize, tid: i32, nt: i32): void {
  const H = p32(p, Depthwise.H), W = p32(p, Depthwise.W);
  const C = p32(p, Depthwise.C), M = p32(p, Depthwise.M);
  const OH = p32(p, Depthwise.OH), OW = p32(p, Depthwise.OW);
  const fh = p32(p, Depthwise.fh), fw = p32(p, Depthwise.fw);
  const sh = p32(p, Depthwise.sh), sw = p32(p, Depthwise.sw);
  const dh = p32(p, Depthwise.dh), dw = p32(p, Depthwise.dw);
  const padT = p32(p, Depthwise.padT), padL = p32(p, Depthwise.padL);
  const dy = <usize> p32(p, Depthwise.y), f = <usize> p32(p, Depthwise.f);
  const dx = <usize> p32(p, Depthwise.dx);
  const CM = C * M;
  const r = splitRange(p32(p, Depthwise.B) * H, 1, tid, nt);
  for (let row = <i32> (r >> 32); row < <i32> r; row++) {
    const b = row / H, iy = row - b * H;
    const dyi = dy + <usize> (b * OH * OW * CM) * 4;
    for (let ix = 0; ix < W; ix++) {
      const dxo = dx + <usize> ((row * W + ix) * C) * 4;
      memory.fill(dxo, 0, <usize> C * 4);
      for (let ky = 0; ky < fh; ky++) {
        const ty = iy + padT - ky * dh;
        if (ty < 0 || ty % sh != 0) continue;
        const oy = ty / sh;
        if (oy >= OH) continue;
        for (let kx = 0; kx < fw; kx++) {
          const tx = ix + padL - kx * dw;
          if (tx < 0 || tx % sw != 0) continue;
          const ox = tx / sw;
          if (ox >= OW) continue;
          const gp = dyi + <usize> ((oy * OW + ox) * CM) * 4;
          const fp = f + <usize> ((ky * fw + kx) * CM) * 4;
          if (M == 1) {
            let c = 0;
            for (; c + 4 <= C; c += 4) {
              const o = <usize> c * 4;
              v128.store(
                dxo + o,
                f32x4.add(
                  v128.load(dxo + o),
                  f32x4.mul(v128.load(gp + o), v128.load(fp + o)),
                ),
              );
            }
            for (; c < C; c++) {
              const o = <usize> c * 4;
              store<f32>(
                dxo + o,
                load<f32>(dxo + o) + load<f32>(gp + o) * load<f32>(fp + o),
              );
            }
          } else {
            for (let c = 0; c < C; c++) {
              let s: f32 = 0;
              for (let m = 0; m < M; m++) {
                const o = <usize> (c * M + m) * 4;
                s += load<f32>(gp + o) * load<f32>(fp + o);
              }
              const d = dxo + <usize> c * 4;
              store<f32>(d, load<f32>(d) + s);
            }
          }
        }
      }
    }
  }
}

// Filter gradient, phase 1: this thread's partial df over its output rows.
export function depthwise_filter_grad(p: usize, tid: i32, nt: i32): void {
  const H = p32(p, Depthwise.H), W = p32(p, Depthwise.W);
  const C = p32(p, Depthwise.C), M = p32(p, Depthwise.M);
  const OH = p32(p, Depthwise.OH), OW = p32(p, Depthwise.OW);
  const fh = p32(p, Depthwise.fh), fw = p32(p, Depthwise.fw);
  const sh = p32(p, Depthwise.sh), sw = p32(p, Depthwise.sw);
  const dh = p32(p, Depthwise.dh), dw = p32(p, Depthwise.dw);
  const padT = p32(p, Depthwise.padT), padL = p32(p, Depthwise.padL);
  const x = <usize> p32(p, Depthwise.x), dy = <usize> p32(p, Depthwise.y);
  const CM = C * M;
  const F = fh * fw * CM;
  const part = <usize> p32(p, Depthwise.partials) +
    <usize> tid * lineUp(<usize> F * 4);
  memory.fill(part, 0, <usize> F * 4);
  const r = splitRange(p32(p, Depthwise.B) * OH, 1, tid, nt);
  for (let row = <i32> (r >> 32); row < <i32> r; row++) {
    const b = row / OH, oy = row - b * OH;
    const xi = x + <usize> (b * H * W * C) * 4;
    for (let ox = 0; ox < OW; ox++) {
      const gp = dy + <usize> ((row * OW + ox) * CM) * 4;
      for (let ky = 0; ky < fh; ky++) {
        const iy = oy * sh - padT + ky * dh;
        if (iy < 0 || iy >= H) continue;
        for (let kx = 0; kx < fw; kx++) {
          const ix = ox * sw - padL + kx * dw;
          if (ix < 0 || ix >= W) continue;
          const xp = xi + <usize> ((iy * W + ix) * C) * 4;
          const pp = part + <usize> ((ky * fw + kx) * CM) * 4;
          let j = 0;
          if (M == 1) {
            for (; j + 4 <= CM; j += 4) {
              const o = <usize> j * 4;
              v128.store(
                pp + o,
                f32x4.add(
                  v128.load(pp + o),
                  f32x4.mul(v128.load(xp + o), v128.load(gp + o)),
                ),
              );
            }
          }
          for (; j < CM; j++) {
            const o = <usize> j * 4;
            store<f32>(
              pp + o,
              load<f32>(pp + o) +
                load<f32>(xp + <usize> (j / M) * 4) * load<f32>(gp + o),
            );
          }
        }
      }
    }
  }
}

// Filter gradient, phase 2: df = Σ partials, split over the filter.
export function depthwise_filter_reduce(p: usize, tid: i32, nt: i32): void {
  const CM = p32(p, Depthwise.C) * p32(p, Depthwise.M);
  const F = p32(p, Depthwise.fh) * p32(p, Depthwise.fw) * CM;
  const partials = <usize> p32(p, Depthwise.partials);
  const df = <usize> p32(p, Depthwise.df);
  const parts = p32(p, Depthwise.parts);
  const stride = lineUp(<usize> F * 4);
  const r = splitRange(F, 1, tid, nt);
  for (let i = <i32> (r >> 32); i < <i32> r; i++) {
    let s: f32 = 0;
    for (let t = 0; t < parts; t++) {
      s += load<f32>(partials + <usize> t * stride + <usize> i * 4);
    }
    store<f32>(df + <usize> i * 4, s);
  }
}
