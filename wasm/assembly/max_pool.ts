// Max pooling, forward and gradient, over NHWC images, four channels per
// vector. Windows clipped by padding take the maximum of their pixels
// inside the image, as tfjs does.

import { p32, splitRange } from "./params";
import { MaxPool, MaxPoolGrad } from "./blocks";

// Params: MaxPool. Threads split over
// output rows (image, oy), so batch-1 inference uses every thread too.
export function max_pool(p: usize, tid: i32, nt: i32): void {
  const H = p32(p, MaxPool.H), W = p32(p, MaxPool.W), C = p32(p, MaxPool.C);
  const OH = p32(p, MaxPool.OH);
  const OW = p32(p, MaxPool.OW);
  const fh = p32(p, MaxPool.fh);
  const fw = p32(p, MaxPool.fw);
  const sh = p32(p, MaxPool.sh);
  const sw = p32(p, MaxPool.sw);
  const padT = p32(p, MaxPool.padT);
  const padL = p32(p, MaxPool.padL);
  const x = <usize> p32(p, MaxPool.x), out = <usize> p32(p, MaxPool.out);
  const r = splitRange(p32(p, MaxPool.B) * OH, 1, tid, nt);
  const c4 = C & ~3;
  const rowBytes = <usize> W * <usize> C * 4, px = <usize> C * 4;
  // 2x2 windows with stride 2 from the top-left corner (every pooling of
  // both networks): the windows wholly inside the image go through pairs2x2.
  const pairs = fh == 2 && fw == 2 && sh == 2 && sw == 2 && padT == 0 &&
      padL == 0 && (C & 3) == 0
    ? min(OW, W >> 1)
    : 0;
  for (let row = <i32> (r >> 32); row < <i32> r; row++) {
    const b = row / OH, oy = row % OH;
    const img = x + <usize> b * <usize> H * rowBytes;
    const y0 = max(oy * sh - padT, 0), y1 = min(oy * sh - padT + fh, H);
    let o = out + <usize> row * <usize> OW * px;
    let ox = 0;
    if (pairs > 0 && y1 - y0 == 2) {
      pairs2x2(img + <usize> y0 * rowBytes, rowBytes, px, pairs, o);
      ox = pairs;
      o += <usize> pairs * px;
    }
    for (; ox < OW; ox++) {
      const x0 = max(ox * sw - padL, 0), x1 = min(ox * sw - padL + fw, W);
      for (let c = 0; c < c4; c += 4) {
        let best = f32x4.splat(-Infinity);
        for (let y = y0; y < y1; y++) {
          let q = img + <usize> y * rowBytes + <usize> x0 * px + <usize> c * 4;
          for (let xx = x0; xx < x1; xx++) {
            best = f32x4.max(best, v128.load(q));
            q += px;
          }
        }
        v128.store(o + <usize> c * 4, best);
      }
      for (let c = c4; c < C; c++) {
        let best: f32 = -Infinity;
        for (let y = y0; y < y1; y++) {
          for (let xx = x0; xx < x1; xx++) {
            best = max(best, load<f32>(img + <usize> y * rowBytes + <usize> xx * px + <usize> c * 4));
          }
        }
        store<f32>(o + <usize> c * 4, best);
      }
      o += px;
    }
  }
}

// The maxima of `n` 2x2 windows side by side, their top-left pixel at q,
// q + 2 px, ...; C a multiple of 4. The general loop above runs two trips
// of two for each vector; here each vector is four loads and three maxima
// (the maximum is exact and NaN wins in any order, so the result equals
// that loop's bit for bit). Medians of three alternated runs, EPYC
// AVX-512: 512x31x31x32, 1 thread 13.4 -> 6.7 ms, 2 threads 6.9 -> 3.8;
// 512x15x15x128, 1 thread 12.3 -> 4.0, 2 threads 6.3 -> 2.3.
function pairs2x2(q: usize, rowBytes: usize, px: usize, n: i32, o: usize): void {
  const end = o + <usize> n * px;
  while (o < end) {
    const oEnd = o + px;
    while (o < oEnd) {
      const q1 = q + rowBytes;
      const top = f32x4.max(v128.load(q), v128.load(q + px));
      const bot = f32x4.max(v128.load(q1), v128.load(q1 + px));
      v128.store(o, f32x4.max(top, bot));
      q += 16;
      o += 16;
    }
    // o has moved one pixel, q one pixel: skip the window's second column.
    q += px;
  }
}

// Max-pool gradient: routes each dy to the first maximum of its window in
// row-major order (the tie rule of the tfjs reference), four channels at a
// time. Threads split over images, so overlapping windows never race.
// Params: MaxPoolGrad.
export function maxpool_grad(p: usize, tid: i32, nt: i32): void {
  const H = p32(p, MaxPoolGrad.H);
  const W = p32(p, MaxPoolGrad.W);
  const C = p32(p, MaxPoolGrad.C);
  const OH = p32(p, MaxPoolGrad.OH);
  const OW = p32(p, MaxPoolGrad.OW);
  const fh = p32(p, MaxPoolGrad.fh);
  const fw = p32(p, MaxPoolGrad.fw);
  const sh = p32(p, MaxPoolGrad.sh);
  const sw = p32(p, MaxPoolGrad.sw);
  const padT = p32(p, MaxPoolGrad.padT);
  const padL = p32(p, MaxPoolGrad.padL);
  const x = <usize> p32(p, MaxPoolGrad.x),
    dy = <usize> p32(p, MaxPoolGrad.dy),
    dx = <usize> p32(p, MaxPoolGrad.dx);
  const r = splitRange(p32(p, MaxPoolGrad.B), 1, tid, nt);
  const b0 = <i32> (r >> 32), b1 = <i32> r;
  const imgBytes = <usize> (H * W * C) * 4;
  if (sh == fh && sw == fw && padT == 0 && padL == 0) {
    for (let b = b0; b < b1; b++) {
      tiledGrad(
        x + <usize> b * imgBytes,
        dy + <usize> (b * OH * OW * C) * 4,
        dx + <usize> b * imgBytes,
        H,
        W,
        C,
        OH,
        OW,
        fh,
        fw,
      );
    }
    return;
  }
  if (b1 > b0) {
    memory.fill(dx + <usize> b0 * imgBytes, 0, <usize> (b1 - b0) * imgBytes);
  }
  const c4 = C & ~3;
  for (let b = b0; b < b1; b++) {
    const xi = x + <usize> b * imgBytes;
    const dxi = dx + <usize> b * imgBytes;
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const dyo = dy + <usize> (((b * OH + oy) * OW + ox) * C) * 4;
        const y0 = oy * sh - padT, x0 = ox * sw - padL;
        for (let c = 0; c < c4; c += 4) {
          let best = f32x4.splat(-Infinity);
          let arg = i32x4.splat(-1);
          for (let wy = 0; wy < fh; wy++) {
            const y = y0 + wy;
            if (y < 0 || y >= H) continue;
            for (let wx = 0; wx < fw; wx++) {
              const xx = x0 + wx;
              if (xx < 0 || xx >= W) continue;
              const pos = (y * W + xx) * C + c;
              const v = v128.load(xi + <usize> pos * 4);
              const gt = f32x4.gt(v, best);
              best = v128.bitselect(v, best, gt);
              arg = v128.bitselect(
                i32x4.add(i32x4.splat(pos), i32x4(0, 1, 2, 3)),
                arg,
                gt,
              );
            }
          }
          const g = v128.load(dyo + <usize> c * 4);
          const a0 = i32x4.extract_lane(arg, 0),
            a1 = i32x4.extract_lane(arg, 1);
          const a2 = i32x4.extract_lane(arg, 2),
            a3 = i32x4.extract_lane(arg, 3);
          if (a0 >= 0) {
            store<f32>(
              dxi + <usize> a0 * 4,
              load<f32>(dxi + <usize> a0 * 4) + f32x4.extract_lane(g, 0),
            );
          }
          if (a1 >= 0) {
            store<f32>(
              dxi + <usize> a1 * 4,
              load<f32>(dxi + <usize> a1 * 4) + f32x4.extract_lane(g, 1),
            );
          }
          if (a2 >= 0) {
            store<f32>(
              dxi + <usize> a2 * 4,
              load<f32>(dxi + <usize> a2 * 4) + f32x4.extract_lane(g, 2),
            );
          }
          if (a3 >= 0) {
            store<f32>(
              dxi + <usize> a3 * 4,
              load<f32>(dxi + <usize> a3 * 4) + f32x4.extract_lane(g, 3),
            );
          }
        }
        for (let c = c4; c < C; c++) {
          let best: f32 = -Infinity;
          let arg = -1;
          for (let wy = 0; wy < fh; wy++) {
            const y = y0 + wy;
            if (y < 0 || y >= H) continue;
            for (let wx = 0; wx < fw; wx++) {
              const xx = x0 + wx;
              if (xx < 0 || xx >= W) continue;
              const pos = (y * W + xx) * C + c;
              const v = load<f32>(xi + <usize> pos * 4);
              if (v > best) {
                best = v;
                arg = pos;
              }
            }
          }
          if (arg >= 0) {
            store<f32>(
              dxi + <usize> arg * 4,
              load<f32>(dxi + <usize> arg * 4) + load<f32>(dyo + <usize> c * 4),
            );
          }
        }
      }
    }
  }
}


// The gradient of one image when windows tile it from the top-left corner
// (stride = window, no top or left padding: Keras' default pooling, and
// every pooling of the fast-recipe network). Each input is in at most one
// window, so dx is written once, vectors of four channels at a time,
// instead of zero-filled and then scattered lane by lane (the general path
// above). The first maximum in row-major order takes the gradient, as
// there; a window whose maximum is not above -Inf (all -Inf or NaN) gives
// none. 512x31x31x32, 2x2 windows (medians of three alternated runs,
// EPYC AVX-512): 1 thread 29.7 -> 21.2 ms, 2 threads 13.0 -> 10.6 ms; whole
// 2x2 windows then went through grad2x2 below (another 2x).
function tiledGrad(
  x: usize,
  dy: usize,
  dx: usize,
  H: i32,
  W: i32,
  C: i32,
  OH: i32,
  OW: i32,
  fh: i32,
  fw: i32,
): void {
  const px = <usize> C * 4, rowBytes = <usize> W * px;
  const c4 = C & ~3;
  const zero = f32x4.splat(0), ninf = f32x4.splat(-Infinity);
  const coveredW = min(OW * fw, W), coveredH = min(OH * fh, H);
  for (let oy = 0; oy < OH; oy++) {
    const y0 = oy * fh, y1 = min(y0 + fh, H);
    for (let ox = 0; ox < OW; ox++) {
      const x0 = ox * fw, x1 = min(x0 + fw, W);
      const win = <usize> y0 * rowBytes + <usize> x0 * px;
      const full = fh == 2 && fw == 2 && y1 - y0 == 2 && x1 - x0 == 2;
      const g0 = dy + <usize> (oy * OW + ox) * px;
      if (full) {
        grad2x2(x + win, dx + win, g0, rowBytes, px, c4);
      }
      for (let c = full ? c4 : 0; c < c4; c += 4) {
        const cb = win + <usize> c * 4;
        let best = ninf;
        for (let y = y0; y < y1; y++) {
          let q = x + cb + <usize> (y - y0) * rowBytes;
          for (let xx = x0; xx < x1; xx++) {
            const v = v128.load(q);
            best = v128.bitselect(v, best, f32x4.gt(v, best));
            q += px;
          }
        }
        // Lanes still free to take the gradient: those with a maximum.
        let free = f32x4.gt(best, ninf);
        const g = v128.load(g0 + <usize> c * 4);
        for (let y = y0; y < y1; y++) {
          const off = cb + <usize> (y - y0) * rowBytes;
          let q = x + off, d = dx + off;
          for (let xx = x0; xx < x1; xx++) {
            const m = v128.and(f32x4.eq(v128.load(q), best), free);
            free = v128.andnot(free, m);
            // 0 + g, as the general path's accumulation gives (-0 -> +0).
            v128.store(d, f32x4.add(zero, v128.and(g, m)));
            q += px;
            d += px;
          }
        }
      }
      for (let c = c4; c < C; c++) {
        const cb = win + <usize> c * 4;
        let best: f32 = -Infinity;
        for (let y = y0; y < y1; y++) {
          for (let xx = x0; xx < x1; xx++) {
            const v = load<f32>(x + cb + <usize> (y - y0) * rowBytes + <usize> (xx - x0) * px);
            if (v > best) best = v;
          }
        }
        let free = best > -Infinity;
        const g = load<f32>(g0 + <usize> c * 4);
        for (let y = y0; y < y1; y++) {
          for (let xx = x0; xx < x1; xx++) {
            const off = cb + <usize> (y - y0) * rowBytes + <usize> (xx - x0) * px;
            const take = free && load<f32>(x + off) == best;
            if (take) free = false;
            store<f32>(dx + off, take ? <f32> 0 + g : <f32> 0);
          }
        }
      }
    }
    // Columns right of the last window get no gradient.
    if (coveredW < W) {
      for (let y = y0; y < y1; y++) {
        memory.fill(
          dx + <usize> y * rowBytes + <usize> coveredW * px,
          0,
          <usize> (W - coveredW) * px,
        );
      }
    }
  }
  // Nor do rows below the last window.
  if (coveredH < H) {
    memory.fill(
      dx + <usize> coveredH * rowBytes,
      0,
      <usize> (H - coveredH) * rowBytes,
    );
  }
}

// tiledGrad's vector loop for one whole 2x2 window: the same selects in
// the same order, unrolled (the general loops run trips of two). p is the
// window's top-left pixel in x, d in dx, g its dy; c4 channels. Medians of
// three alternated runs, EPYC AVX-512: 512x31x31x32, 1 thread 19.6 -> 10.0
// ms, 2 threads 10.1 -> 5.1; 512x15x15x128, 1 thread 18.6 -> 6.2, 2
// threads 9.7 -> 3.7.
@inline
function grad2x2(p: usize, d: usize, g: usize, rowBytes: usize, px: usize, c4: i32): void {
  const zero = f32x4.splat(0), ninf = f32x4.splat(-Infinity);
  for (let c: usize = 0; c < <usize> c4 * 4; c += 16) {
    const a = p + c, b = a + rowBytes;
    const v0 = v128.load(a), v1 = v128.load(a + px);
    const v2 = v128.load(b), v3 = v128.load(b + px);
    let best = v128.bitselect(v0, ninf, f32x4.gt(v0, ninf));
    best = v128.bitselect(v1, best, f32x4.gt(v1, best));
    best = v128.bitselect(v2, best, f32x4.gt(v2, best));
    best = v128.bitselect(v3, best, f32x4.gt(v3, best));
    let free = f32x4.gt(best, ninf);
    const gv = v128.load(g + c);
    const m0 = v128.and(f32x4.eq(v0, best), free);
    free = v128.andnot(free, m0);
    const m1 = v128.and(f32x4.eq(v1, best), free);
    free = v128.andnot(free, m1);
    const m2 = v128.and(f32x4.eq(v2, best), free);
    free = v128.andnot(free, m2);
    const m3 = v128.and(f32x4.eq(v3, best), free);
    const e = d + c, f = e + rowBytes;
    v128.store(e, f32x4.add(zero, v128.and(gv, m0)));
    v128.store(e + px, f32x4.add(zero, v128.and(gv, m1)));
    v128.store(f, f32x4.add(zero, v128.and(gv, m2)));
    v128.store(f + px, f32x4.add(zero, v128.and(gv, m3)));
  }
}
