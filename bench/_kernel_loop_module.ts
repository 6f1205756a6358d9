/**
 * A second module for bench:peak, assembled from bytes like
 * bench/_simd_peak_module.ts: the loop of simdnet's 6x8 matrix-product
 * micro-kernel (wasm/assembly/gemm.ts), with its memory traffic. Each k step
 * loads two vectors of B and splats six floats of A, eight bounds-checked
 * loads for twelve multiply-adds, from buffers that stay in L1. The peak
 * loop has no loads at all, so the two side by side say what the checked
 * loads cost on this machine, and building the module over a shared memory
 * (the threaded build's) or a private one says what sharing costs: V8
 * reloads a shared memory's size inside every loop, since another thread
 * may grow it.
 *
 * `run(n, k)` adds `A[k x 6]ᵀ B[k x 8]` to `C[6 x 8]` `n` times: A's k
 * steps are 6 floats at `A_OFFSET + 24 t`, B's 8 floats at
 * `B_OFFSET + 32 t`, C's row r at `C_OFFSET + 32 r`, all in the first page
 * of the memory it imports (`env.memory`, growable, as tfjs' heap is).
 *
 * @module
 */

import { name, section, simd, sleb, uleb } from "./_simd_peak_module.ts";

/** How the loop multiplies and adds, and which memory it reads. */
export interface KernelLoop {
  /** `f32x4.relaxed_madd`, or `f32x4.mul` then `f32x4.add`. */
  relaxed: boolean;
  /** A shared memory (as the threaded build's kernels run on) or a private one. */
  shared: boolean;
}

/** Byte offsets of A, B and C in the module's memory. */
export const A_OFFSET = 0;
export const B_OFFSET = 8192;
export const C_OFFSET = 16384;
// One page for the buffers; room to grow, as tfjs' heap has.
const PAGES = 1;
const MAX_PAGES = 1024;
/** The longest k the buffers hold (A: 24 bytes a step, B: 32). */
export const MAX_K = 256;

/** FLOPs of one `run(1, k)`: 48 multiply-adds a k step, 2 FLOPs each. */
export function kernelFlops(k: number): number {
  return 96 * k;
}

const V128 = 0x7b;
const I32 = 0x7f;
const GET = 0x20;
const SET = 0x21;
const memarg = (align: number, offset: number) => [align, ...uleb(offset)];
const load = (offset: number) => [...simd(0x00), ...memarg(4, offset)];
const load32Splat = (offset: number) => [...simd(0x09), ...memarg(2, offset)];
const store = (offset: number) => [...simd(0x0b), ...memarg(4, offset)];
const i32Const = (v: number) => [0x41, ...sleb(v)];

// Locals: 0 n, 1 k (parameters); 2 t, 3 pa, 4 pb (i32); 5 b0, 6 b1, 7 a
// splat, 8-19 the accumulators (v128), C[r] columns 0-3 and 4-7 at 8 + 2r.
const T = 2, PA = 3, PB = 4, B0 = 5, B1 = 6, A = 7;
const acc = (i: number) => 8 + i;

function multiplyAdd(relaxed: boolean, b: number, c: number): number[] {
  // c = a * b + c
  return relaxed
    ? [GET, A, GET, b, GET, c, ...simd(0x105), SET, c]
    : [GET, A, GET, b, ...simd(0xe6), GET, c, ...simd(0xe4), SET, c];
}

function body(relaxed: boolean): number[] {
  const code: number[] = [0x02, 0x40, 0x03, 0x40]; // block; loop (over n)
  code.push(GET, 0, 0x45, 0x0d, 1); // n == 0: leave
  for (let i = 0; i < 12; i++) {
    code.push(...i32Const(C_OFFSET), ...load(16 * i), SET, acc(i));
  }
  code.push(...i32Const(A_OFFSET), SET, PA, ...i32Const(B_OFFSET), SET, PB);
  code.push(GET, 1, SET, T);
  code.push(0x02, 0x40, 0x03, 0x40); // block; loop (over k)
  code.push(GET, T, 0x45, 0x0d, 1);
  code.push(GET, PB, ...load(0), SET, B0, GET, PB, ...load(16), SET, B1);
  for (let r = 0; r < 6; r++) {
    code.push(GET, PA, ...load32Splat(4 * r), SET, A);
    code.push(...multiplyAdd(relaxed, B0, acc(2 * r)));
    code.push(...multiplyAdd(relaxed, B1, acc(2 * r + 1)));
  }
  code.push(GET, PA, ...i32Const(24), 0x6a, SET, PA); // pa += 24
  code.push(GET, PB, ...i32Const(32), 0x6a, SET, PB); // pb += 32
  code.push(GET, T, ...i32Const(1), 0x6b, SET, T); // t -= 1
  code.push(0x0c, 0, 0x0b, 0x0b); // br to the k loop; end; end
  for (let i = 0; i < 12; i++) {
    code.push(...i32Const(C_OFFSET), GET, acc(i), ...store(16 * i));
  }
  code.push(GET, 0, ...i32Const(1), 0x6b, SET, 0); // n -= 1
  code.push(0x0c, 0, 0x0b, 0x0b, 0x0b); // br to the n loop; end; end; end
  const locals = [...uleb(2), ...uleb(3), I32, ...uleb(15), V128];
  return [...locals, ...code];
}

/** The module's bytes; see the module doc for what `run` computes. */
export function kernelModuleBytes(loop: KernelLoop): Uint8Array<ArrayBuffer> {
  const fn = body(loop.relaxed);
  // The memory is imported, as simdnet's kernels import tfjs' heap. Limits:
  // 0x01 min and max; 0x03 the same, shared (which needs a max).
  const limits = [
    loop.shared ? 0x03 : 0x01,
    ...uleb(PAGES),
    ...uleb(MAX_PAGES),
  ];
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, [1, 0x60, 2, I32, I32, 0]), // type (i32, i32) -> ()
    ...section(2, [1, ...name("env"), ...name("memory"), 0x02, ...limits]),
    ...section(3, [1, 0]),
    ...section(7, [1, ...name("run"), 0x00, 0]),
    ...section(10, [1, ...uleb(fn.length), ...fn]),
  ]);
}

/** An instance's `run` and views of its A, B and C. */
export interface KernelInstance {
  run: (n: number, k: number) => void;
  /** A: k steps of 6 floats (MAX_K x 6). */
  a: Float32Array;
  /** B: k steps of 8 floats (MAX_K x 8). */
  b: Float32Array;
  /** C: 6 rows of 8 floats. */
  c: Float32Array;
}

/** Compiles and instantiates `loop`'s module (throws if it does not validate). */
export async function instantiateKernel(
  loop: KernelLoop,
): Promise<KernelInstance> {
  // Growable like tfjs' heap: a memory that cannot grow might be compiled
  // with its size as a constant.
  const memory = new WebAssembly.Memory({
    initial: PAGES,
    maximum: MAX_PAGES,
    shared: loop.shared,
  } as WebAssembly.MemoryDescriptor);
  const { instance } = await WebAssembly.instantiate(
    kernelModuleBytes(loop),
    { env: { memory } },
  );
  const run = (instance.exports as { run: (n: number, k: number) => void })
    .run;
  const buffer = memory.buffer;
  return {
    run: (n, k) => {
      if (!Number.isInteger(k) || k < 0 || k > MAX_K) {
        throw new RangeError(`k must be 0 to ${MAX_K}, got ${k}`);
      }
      run(n, k);
    },
    a: new Float32Array(buffer, A_OFFSET, MAX_K * 6),
    b: new Float32Array(buffer, B_OFFSET, MAX_K * 8),
    c: new Float32Array(buffer, C_OFFSET, 48),
  };
}

/**
 * GFLOP/s of `instance`'s loop on this thread: `calls` timed calls of
 * about `ms` milliseconds each (k = MAX_K), the best of them. A warm-up
 * call first tiers V8's code up; its length is measured, not assumed.
 */
export function kernelLoopGflops(
  instance: KernelInstance,
  ms = 50,
  calls = 3,
): number {
  instance.a.fill(0.5);
  instance.b.fill(0.25);
  instance.c.fill(0);
  let n = 200;
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    instance.run(n, MAX_K);
    const took = Math.max(performance.now() - t, 0.01);
    n = Math.max(1, Math.round((n * ms) / took));
  }
  let best = 0;
  for (let i = 0; i < calls; i++) {
    const t = performance.now();
    instance.run(n, MAX_K);
    const took = Math.max(performance.now() - t, 1e-3);
    best = Math.max(best, (n * kernelFlops(MAX_K)) / (took * 1e6));
  }
  return best;
}
