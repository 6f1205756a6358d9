// Per-group column reductions: out[o, c] = scale · op over r of x[o, r, c],
// op sum or max, for x viewed as [outer, rows, cols] (global average and
// max pooling over H, W of NHWC: outer = N, rows = H W, cols = C). Threads
// split over groups, so each writes only its own rows of out.

import { f32At, p32, splitRange } from "./params";
import { ReduceRows } from "./blocks";

// Params: ReduceRows (op 0 sum, 1 max).
export function reduce_rows(p: usize, tid: i32, nt: i32): void {
  const outer = p32(p, ReduceRows.outer);
  const rows = p32(p, ReduceRows.rows), cols = p32(p, ReduceRows.cols);
  const x = <usize> p32(p, ReduceRows.x), out = <usize> p32(p, ReduceRows.out);
  const isMax = p32(p, ReduceRows.op) == 1;
  const scale = f32At(p, ReduceRows.scale);
  const c4 = cols & ~3;
  const r = splitRange(outer, 1, tid, nt);
  for (let o = <i32> (r >> 32); o < <i32> r; o++) {
    const xo = x + <usize> o * <usize> rows * <usize> cols * 4;
    const d = out + <usize> o * <usize> cols * 4;
    for (let c = 0; c < c4; c += 4) {
      const col = xo + <usize> c * 4;
      let acc = isMax ? f32x4.splat(-Infinity) : f32x4.splat(0);
      for (let i = 0; i < rows; i++) {
        const v = v128.load(col + <usize> i * <usize> cols * 4);
        if (isMax) {
          // NaN wins, as in tfjs' max.
          acc = v128.bitselect(v, f32x4.max(acc, v), f32x4.ne(v, v));
        } else acc = f32x4.add(acc, v);
      }
      v128.store(d + <usize> c * 4, isMax ? acc : f32x4.mul(acc, f32x4.splat(scale)));
    }
    for (let c = c4; c < cols; c++) {
      const col = xo + <usize> c * 4;
      let acc: f32 = isMax ? -Infinity : 0;
      for (let i = 0; i < rows; i++) {
        const v = load<f32>(col + <usize> i * <usize> cols * 4);
        if (isMax) acc = isNaN(v) ? v : max(acc, v);
        else acc += v;
      }
      store<f32>(d + <usize> c * 4, isMax ? acc : acc * scale);
    }
  }
}
