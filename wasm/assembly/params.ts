// Reading a kernel's parameter block and sharing work out over threads.

// Word i of the parameter block at p, as i32.
export function p32(p: usize, i: i32): i32 {
  return load<i32>(p + <usize> (i * 4));
}

// Word i of the parameter block at p, as f32.
export function f32At(p: usize, i: i32): f32 {
  return load<f32>(p + <usize> (i * 4));
}

// Thread tid's share [lo, hi) of n items in units of `align` items, packed
// as (lo << 32) | hi: contiguous, sizes differing by at most one unit.
export function splitRange(n: i32, align: i32, tid: i32, nt: i32): i64 {
  const units = (n + align - 1) / align;
  const per = units / nt;
  const extra = units % nt;
  const u0 = tid * per + min(tid, extra);
  const u1 = u0 + per + (tid < extra ? 1 : 0);
  return (<i64> min(u0 * align, n) << 32) | <i64> min(u1 * align, n);
}

// n bytes rounded up to whole 64-byte cache lines: the stride of per-thread
// partials, so that no two threads write one line (the host aligns the
// partials' base to 64 bytes; see HeapKernels.extra).
export function lineUp(n: usize): usize {
  return (n + 63) & ~(<usize> 63);
}
