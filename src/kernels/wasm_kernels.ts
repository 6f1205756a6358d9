/**
 * Loads simdnet's kernel module (relaxed-SIMD FMA where the engine has it,
 * plain SIMD otherwise) onto the tfjs heap and keeps the host-side state the
 * kernels need: a parameter block and per-thread scratch, both allocated once
 * with the heap's own `malloc` and reused across calls, because touching
 * fresh pages costs more than the arithmetic of a small layer.
 *
 * @module
 */
import { decodeBase64 } from "../util/base64.ts";
import * as binaries from "./kernel_binaries.ts";
import type { ThreadPool } from "./thread_pool.ts";
import type { TfjsWasmModule } from "./tfjs_heap.ts";
import {
  type Entry,
  type Fields,
  PARAM_WORDS,
  type ParamValues,
} from "./params.ts";

/** The kernel module variant that runs here. */
export interface KernelVariant {
  relaxedSimd: boolean;
  shared: boolean;
  module: WebAssembly.Module;
}

/** Picks and compiles the best kernel variant this engine accepts. */
export function compileKernels(shared: boolean): KernelVariant {
  const order = shared
    ? [[binaries.relaxedShared, true], [binaries.simdShared, false]] as const
    : [[binaries.relaxedPrivate, true], [binaries.simdPrivate, false]] as const;
  for (const [b64, relaxedSimd] of order) {
    const bytes = decodeBase64(b64);
    if (WebAssembly.validate(bytes)) {
      return { relaxedSimd, shared, module: new WebAssembly.Module(bytes) };
    }
  }
  throw new Error("simdnet: this engine supports no SIMD kernel variant");
}

// Buffers kept by HeapKernels.derived: enough for the transformed filters
// of a network's 3x3 layers, forward and flipped.
const DERIVED_SLOTS = 12;

interface DerivedBuffer {
  ref: WeakRef<object>;
  tag: number;
  ptr: number;
  bytes: number;
}

/** `n` bytes rounded up to whole 64-byte cache lines (`lineUp` in wasm/assembly/params.ts). */
function lineUp(n: number): number {
  return Math.ceil(n / 64) * 64;
}

/** The kernels bound to one tfjs heap. */
export class HeapKernels {
  readonly pool: ThreadPool;
  readonly variant: KernelVariant;
  readonly #wasm: TfjsWasmModule;
  readonly #memory: WebAssembly.Memory;
  readonly #block: number;
  readonly #params: number;
  readonly #counterOffset: number;
  #paramsI32: Int32Array;
  #paramsF32: Float32Array;
  #counter: Int32Array;
  #scratch = 0;
  #scratchBytes = 0;
  #extra = 0;
  #extraBytes = 0;
  readonly #derived: DerivedBuffer[] = [];
  #nextVictim = 0;

  constructor(
    wasm: TfjsWasmModule,
    memory: WebAssembly.Memory,
    pool: ThreadPool,
    variant: KernelVariant,
  ) {
    this.#wasm = wasm;
    this.#memory = memory;
    this.pool = pool;
    this.variant = variant;
    // The parameter block, and the work counter of the kernels that deal
    // out work dynamically (`claim` in wasm/assembly/params.ts) on its own
    // cache line before it, where the kernel module says.
    this.#counterOffset = pool.query("work_counter_offset");
    this.#block = wasm._malloc(PARAM_WORDS * 4 + this.#counterOffset + 64);
    this.#params = ((this.#block + 63) & ~63) + this.#counterOffset;
    this.#paramsI32 = new Int32Array(memory.buffer, this.#params, PARAM_WORDS);
    this.#paramsF32 = new Float32Array(
      memory.buffer,
      this.#params,
      PARAM_WORDS,
    );
    this.#counter = this.#counterView(memory.buffer);
  }

  #counterView(buffer: ArrayBufferLike): Int32Array {
    return new Int32Array(buffer, this.#params - this.#counterOffset, 1);
  }

  /** Threads used per call. */
  get threads(): number {
    return this.pool.limit;
  }

  /** The heap's bytes (a fresh view: the heap may have grown). */
  heap(): Uint8Array {
    return new Uint8Array(this.#memory.buffer);
  }

  /** Per-thread scratch of at least `bytes` bytes; returns [base, stride]. */
  scratch(bytes: number): [number, number] {
    const stride = Math.ceil(bytes / 64) * 64 + 64;
    const total = stride * this.pool.threads;
    if (total > this.#scratchBytes) {
      if (this.#scratch) this.#wasm._free(this.#scratch);
      this.#scratch = this.#wasm._malloc(total + 16);
      this.#scratchBytes = total;
    }
    // 16-byte alignment for v128 loads of packed panels.
    return [(this.#scratch + 15) & ~15, stride];
  }

  /**
   * A second, shared (not per-thread) scratch of `bytes` bytes, aligned to a
   * 64-byte cache line so that per-thread partials laid out in whole lines
   * never share one.
   */
  extra(bytes: number): number {
    if (bytes > this.#extraBytes) {
      if (this.#extra) this.#wasm._free(this.#extra);
      this.#extra = this.#wasm._malloc(bytes + 64);
      this.#extraBytes = bytes;
    }
    return (this.#extra + 63) & ~63;
  }

  /**
   * One partial of `bytes` bytes per thread, in the shared scratch, each
   * starting on its own cache line: thread t's is at the returned offset +
   * t * lineUp(bytes), as `lineUp` in wasm/assembly/params.ts lays them out,
   * then `tail` bytes for the reduce phase's shared results. Partials that
   * shared a line made the bias gradient slower on 2 threads than on 1.
   */
  partials(bytes: number, tail = 0): number {
    return this.extra(this.threads * lineUp(bytes) + tail);
  }

  /**
   * A heap buffer derived from an immutable tensor (a transformed filter),
   * kept across calls by the tensor's data id and a `tag` for the kind of
   * derivation. Returns the buffer and whether it must be (re)filled.
   * Weights do not change between inference calls, so their transform runs
   * once; in training every step brings new data ids and the buffers are
   * simply refilled.
   */
  derived(key: object, tag: number, bytes: number): [number, boolean] {
    for (const e of this.#derived) {
      if (e.tag === tag && e.ref.deref() === key && e.bytes >= bytes) {
        return [(e.ptr + 15) & ~15, false];
      }
    }
    let victim = this.#derived.find((e) => e.ref.deref() === undefined);
    if (!victim && this.#derived.length < DERIVED_SLOTS) {
      victim = { ref: new WeakRef(key), tag, ptr: 0, bytes: 0 };
      this.#derived.push(victim);
    }
    if (!victim) {
      victim = this.#derived[this.#nextVictim]!;
      this.#nextVictim = (this.#nextVictim + 1) % DERIVED_SLOTS;
    }
    if (victim.bytes < bytes) {
      if (victim.ptr) this.#wasm._free(victim.ptr);
      victim.ptr = this.#wasm._malloc(bytes + 16);
      victim.bytes = bytes;
    }
    victim.ref = new WeakRef(key);
    victim.tag = tag;
    return [(victim.ptr + 15) & ~15, true];
  }

  /**
   * Element counts below which an element-wise kernel runs on the calling
   * thread alone ({@linkcode HeapKernels.run}'s `elements`): waking a
   * sleeping worker costs more than such a call's work (on this KVM, a
   * 128-element Sub right after a large kernel took 66-74 us on 2 threads
   * and 12-13 us on 1). 0 splits every call, as the tests of the splits do.
   */
  serialBelow = 16384;

  /**
   * Writes `values` as the parameter block of `entry` (throwing, before
   * anything runs, unless they are exactly its declared fields) and runs the
   * entry point on every thread, or on the calling thread alone for an
   * element-wise call over fewer than {@linkcode HeapKernels.serialBelow}
   * `elements` (reductions over per-thread partials pass none).
   */
  run<F extends Fields>(
    entry: Entry<F>,
    values: ParamValues<F>,
    elements = Infinity,
  ): void {
    // The heap grows by replacing its buffer: views follow it.
    if (this.#paramsI32.buffer !== this.#memory.buffer) {
      const buf = this.#memory.buffer;
      this.#paramsI32 = new Int32Array(buf, this.#params, PARAM_WORDS);
      this.#paramsF32 = new Float32Array(buf, this.#params, PARAM_WORDS);
      this.#counter = this.#counterView(buf);
    }
    entry.params.write(this.#paramsI32, this.#paramsF32, values);
    // Zero the work counter: the pool's Atomics.store that posts the job
    // orders this store before every worker's first claim.
    this.#counter[0] = 0;
    this.pool.run(
      entry.name,
      this.#params,
      elements < this.serialBelow ? 1 : this.pool.limit,
    );
  }

  /** Frees heap memory and stops worker threads. */
  dispose(): void {
    if (this.#scratch) this.#wasm._free(this.#scratch);
    if (this.#extra) this.#wasm._free(this.#extra);
    for (const e of this.#derived) this.#wasm._free(e.ptr);
    this.#wasm._free(this.#block);
    this.pool.terminate();
  }
}
