// Tile: out = x repeated along each axis, 4-byte elements, rank padded to
// six. Rows are the output's last axis; each thread takes a share of rows
// and fills each from x's matching row, repeated.

import { p32, splitRange } from "./params";
import { Tile } from "./blocks";

// Params: Tile.
export function tile(p: usize, tid: i32, nt: i32): void {
  const x0 = p32(p, Tile.x0), x1 = p32(p, Tile.x1), x2 = p32(p, Tile.x2);
  const x3 = p32(p, Tile.x3), x4 = p32(p, Tile.x4), x5 = p32(p, Tile.x5);
  const o1 = p32(p, Tile.o1), o2 = p32(p, Tile.o2);
  const o3 = p32(p, Tile.o3), o4 = p32(p, Tile.o4), o5 = p32(p, Tile.o5);
  const rows = p32(p, Tile.o0) * o1 * o2 * o3 * o4;
  const x = <usize> p32(p, Tile.x), out = <usize> p32(p, Tile.out);
  const rowBytes = <usize> x5 * 4;
  const r = splitRange(rows, 1, tid, nt);
  for (let row = <i32> (r >> 32); row < <i32> r; row++) {
    // The row's index on each leading axis, then the source row in x.
    let q = row;
    const i4 = q % o4;
    q /= o4;
    const i3 = q % o3;
    q /= o3;
    const i2 = q % o2;
    q /= o2;
    const i1 = q % o1;
    const i0 = q / o1;
    const src = ((((i0 % x0) * x1 + i1 % x1) * x2 + i2 % x2) * x3 +
      i3 % x3) * x4 + i4 % x4;
    const s = x + <usize> src * rowBytes;
    let d = out + <usize> row * <usize> o5 * 4;
    if (x5 == 1) {
      // One element repeated: a vector fill.
      const v = load<i32>(s);
      const vv = i32x4.splat(v);
      let j = 0;
      for (; j + 4 <= o5; j += 4) v128.store(d + <usize> j * 4, vv);
      for (; j < o5; j++) store<i32>(d + <usize> j * 4, v);
      continue;
    }
    for (let j = 0; j < o5; j += x5) {
      memory.copy(d, s, rowBytes);
      d += rowBytes;
    }
  }
}
