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

// Dynamic shares. A static split waits for its slowest thread, and the two
// cores of a machine are not always equally fast: on this 2-core VM one of
// them ran at 60% of the other's speed for seconds at a time (2026-12-04,
// AMD EPYC: pinned one way round, the main thread of a 2-thread training
// step spent 1.6x the worker's time in the same Winograd kernels; pinned
// the other way, the worker did), and a laptop's cores also serve other
// programs. Kernels whose every output is computed by exactly one unit of
// work take units from a counter instead, so the faster thread takes more
// of them, and the bits do not depend on who took what. Measured on the
// seed CNN's 2-thread step (bench:profile, alternated processes, medians):
// with another program taking a quarter of one core, 84.3 against 89.4 ms
// (faster in 10 of 10 pairs); on a quiet machine the same within the noise
// (16 pairs: +0.6 ms; 14 others: -1.2 ms). The host keeps that counter
// WORK_COUNTER bytes before every parameter block, on its own cache line,
// and zeroes it before each call.
const WORK_COUNTER: usize = 64;

// The counter's distance before the parameter block (host-called).
export function work_counter_offset(): i32 {
  return <i32> WORK_COUNTER;
}

// The first of the next `units` items of the call whose parameter block is
// at p; items at or past the kernel's count mean there is no more work.
@inline
export function claim(p: usize, units: i32): i32 {
  if (ASC_FEATURE_THREADS) return atomic.add<i32>(p - WORK_COUNTER, units);
  // The single-threaded build: one thread, no other reader.
  const first = load<i32>(p - WORK_COUNTER);
  store<i32>(p - WORK_COUNTER, first + units);
  return first;
}

// n bytes rounded up to whole 64-byte cache lines: the stride of per-thread
// partials, so that no two threads write one line (the host aligns the
// partials' base to 64 bytes; see HeapKernels.extra).
export function lineUp(n: usize): usize {
  return (n + 63) & ~(<usize> 63);
}
