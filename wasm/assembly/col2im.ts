// The input gradient of a strided convolution, second half: dx gathered
// from g = dy · Wᵀ, the products of every output-gradient pixel with every
// tap (src/kernels/conv_input_grad.ts computes g as a matrix product). As
// a convolution of dy seen through inserted zeros, a stride of s would
// multiply s x s times the products that are needed, all but one of them by
// zeros.

import { p32, splitRange } from "./params";
import { Col2Im } from "./blocks";

// dx[b, y, x, c] = Σ g[(b, oy, ox), (ky, kx), c] over the taps with
// y = oy * strideH + ky - padT and x = ox * strideW + kx - padL; g is
// [B * OH * OW, kh * kw * C]. Threads split over rows of dx, so each pixel
// is written by one thread, once. Params: Col2Im.
export function col2im(p: usize, tid: i32, nt: i32): void {
  const H = p32(p, Col2Im.H), W = p32(p, Col2Im.W), C = p32(p, Col2Im.C);
  const OH = p32(p, Col2Im.OH), OW = p32(p, Col2Im.OW);
  const kh = p32(p, Col2Im.kh), kw = p32(p, Col2Im.kw);
  const sH = p32(p, Col2Im.strideH), sW = p32(p, Col2Im.strideW);
  const padT = p32(p, Col2Im.padT), padL = p32(p, Col2Im.padL);
  const g = <usize> p32(p, Col2Im.g), out = <usize> p32(p, Col2Im.out);
  const r = splitRange(p32(p, Col2Im.batch) * H, 1, tid, nt);
  const px = <usize> C * 4, gRow = <usize> (kh * kw) * px;
  const C4 = C & ~3;
  for (let row = <i32> (r >> 32); row < <i32> r; row++) {
    const b = row / H, y = row - b * H;
    for (let x = 0; x < W; x++) {
      const d = out + (<usize> row * <usize> W + <usize> x) * px;
      memory.fill(d, 0, px);
      for (let ky = 0; ky < kh; ky++) {
        const ty = y + padT - ky;
        if (ty < 0 || ty % sH != 0 || ty / sH >= OH) continue;
        const gy = g + <usize> ((b * OH + ty / sH) * OW) * gRow;
        for (let kx = 0; kx < kw; kx++) {
          const tx = x + padL - kx;
          if (tx < 0 || tx % sW != 0 || tx / sW >= OW) continue;
          const s = gy + <usize> (tx / sW) * gRow + <usize> (ky * kw + kx) * px;
          let c = 0;
          for (; c < C4; c += 4) {
            const o = <usize> c * 4;
            v128.store(d + o, f32x4.add(v128.load(d + o), v128.load(s + o)));
          }
          for (; c < C; c++) {
            const o = <usize> c * 4;
            store<f32>(d + o, load<f32>(d + o) + load<f32>(s + o));
          }
        }
      }
    }
  }
}
