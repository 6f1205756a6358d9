/**
 * Loads simdnet's kernel module (relaxed-SIMD FMA where the engine has it,
 * plain SIMD otherwise) onto the tfjs heap and keeps the host-side state the
 * kernels need: a parameter block and per-thread scratch, both allocated once
 * with the heap's own `malloc` and reused across calls, because touching
 * fresh pages costs more than the arithmetic of a small layer.
 *
 * @module
 */
import { decodeBase64 } from "../../wasm/base64.ts";
import * as binaries from "./kernel_binaries.ts";
import type { KernelPool } from "./pool.ts";
import type { KernelName } from "./pool.ts";
import type { TfjsWasmModule } from "../runtime/wasm_backend.ts";

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

/** The kernels bound to one tfjs heap. */
export class HeapKernels {
  readonly pool: KernelPool;
  readonly variant: KernelVariant;
  readonly #wasm: TfjsWasmModule;
  readonly #memory: WebAssembly.Memory;
  readonly #params: number;
  #scratch = 0;
  #scratchBytes = 0;
  #extra = 0;
  #extraBytes = 0;
  readonly #derived: DerivedBuffer[] = [];
  #nextVictim = 0;

  constructor(
    wasm: TfjsWasmModule,
    memory: WebAssembly.Memory,
    pool: KernelPool,
    variant: KernelVariant,
  ) {
    this.#wasm = wasm;
    this.#memory = memory;
    this.pool = pool;
    this.variant = variant;
    this.#params = wasm._malloc(256);
  }

  /** Threads used per call. */
  get threads(): number {
    return this.pool.limit;
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

  /** A second, shared (not per-thread) scratch of `bytes` bytes. */
  extra(bytes: number): number {
    if (bytes > this.#extraBytes) {
      if (this.#extra) this.#wasm._free(this.#extra);
      this.#extra = this.#wasm._malloc(bytes + 16);
      this.#extraBytes = bytes;
    }
    return (this.#extra + 15) & ~15;
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

  /** Writes `words` as the parameter block and runs `name` on every thread. */
  run(name: KernelName, words: number[]): void {
    const view = new Int32Array(this.#memory.buffer, this.#params, 64);
    for (let i = 0; i < words.length; i++) view[i] = words[i]!;
    this.pool.run(name, this.#params);
  }

  /** Frees heap memory and stops worker threads. */
  dispose(): void {
    if (this.#scratch) this.#wasm._free(this.#scratch);
    if (this.#extra) this.#wasm._free(this.#extra);
    for (const e of this.#derived) this.#wasm._free(e.ptr);
    this.#wasm._free(this.#params);
    this.pool.terminate();
  }
}

/** Bytes of per-thread scratch a GEMM with `kcCols`-wide B blocks needs. */
export function gemmScratchBytes(bCols: number): number {
  const MR = 4, NR = 8, KC = 256;
  const cols = Math.ceil(bCols / NR) * NR;
  return 128 + MR * KC * 4 + KC * cols * 4;
}
