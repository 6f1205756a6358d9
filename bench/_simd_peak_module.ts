/**
 * The WebAssembly module of the SIMD peak benchmark (bench/simd_peak.ts),
 * assembled here from bytes so that it needs no toolchain and its loop is
 * exactly what we say: `chains` independent accumulators (v128 locals),
 * each updated `acc = acc * x + y` once per chain and unrolled step, with
 * either one `f32x4.relaxed_madd` or an `f32x4.mul` then an `f32x4.add`.
 * Independent chains hide the instruction's latency: the loop reaches the
 * core's peak once chains >= latency x ports (4 x 2 for FMA on most x86).
 *
 * The module exports `run(n: i32, x: f32, y: f32)`, which runs the loop `n`
 * times and stores accumulator i at byte 16 i of its exported `memory`;
 * accumulator i starts at i in every lane, so after n loops of `unroll`
 * steps it is `x^s i + y (x^s - 1) / (x - 1)` with s = n unroll (or
 * `i + s y` for x = 1), which the test checks.
 *
 * @module
 */

/** Which instruction the loop's multiply-adds are. */
export type PeakVariant = "relaxed_madd" | "mul+add";

/** The shape of the loop. */
export interface PeakLoop {
  variant: PeakVariant;
  /** Independent accumulator chains (v128 locals), 1 to 64. */
  chains: number;
  /** Steps of every chain per loop iteration, so the loop's branch is negligible. */
  unroll: number;
}

/** FLOPs of one loop iteration: 4 lanes, a multiply and an add per step. */
export function flopsPerLoop(loop: PeakLoop): number {
  return loop.chains * loop.unroll * 4 * 2;
}

/** Unsigned LEB128, as the binary format writes counts, indices and opcodes. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128, as `i32.const` writes its immediate. */
export function sleb(n: number): number[] {
  const out: number[] = [];
  while (true) {
    const byte = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (byte & 0x40) === 0) ||
      (n === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

function f32Bytes(v: number): number[] {
  return [...new Uint8Array(new Float32Array([v]).buffer)];
}

/** A section: its id, then its byte length, then its contents. */
export function section(id: number, contents: number[]): number[] {
  return [id, ...uleb(contents.length), ...contents];
}

function vector(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

/** A name: its UTF-8 length, then its bytes. */
export function name(s: string): number[] {
  const bytes = [...new TextEncoder().encode(s)];
  return [...uleb(bytes.length), ...bytes];
}

// Opcodes (WebAssembly core 2.0 and the relaxed-SIMD proposal). SIMD ones
// are the 0xfd prefix then the opcode as unsigned LEB128.
const I32 = 0x7f;
const F32 = 0x7d;
const V128 = 0x7b;
const LOCAL_GET = 0x20;
const LOCAL_SET = 0x21;
/** A SIMD opcode: the 0xfd prefix, then the opcode as unsigned LEB128. */
export const simd = (op: number): number[] => [0xfd, ...uleb(op)];
const F32X4_SPLAT = simd(0x13);
const F32X4_ADD = simd(0xe4);
const F32X4_MUL = simd(0xe6);
const F32X4_RELAXED_MADD = simd(0x105);
const V128_STORE = simd(0x0b);

/** The function body: locals, the set-up, the loop and the stores. */
function body(loop: PeakLoop): number[] {
  const { chains, unroll } = loop;
  // Locals: 0 n, 1 x, 2 y (parameters); 3 splat x, 4 splat y, 5.. accumulators.
  const acc = (i: number) => 5 + i;
  const code: number[] = [
    ...[LOCAL_GET, 1, ...F32X4_SPLAT, LOCAL_SET, 3],
    ...[LOCAL_GET, 2, ...F32X4_SPLAT, LOCAL_SET, 4],
  ];
  for (let i = 0; i < chains; i++) {
    code.push(0x43, ...f32Bytes(i), ...F32X4_SPLAT, LOCAL_SET, acc(i));
  }
  // block; loop; if n == 0 leave the block
  code.push(0x02, 0x40, 0x03, 0x40, LOCAL_GET, 0, 0x45, 0x0d, 1);
  for (let u = 0; u < unroll; u++) {
    for (let i = 0; i < chains; i++) {
      code.push(LOCAL_GET, ...uleb(acc(i)), LOCAL_GET, 3);
      if (loop.variant === "relaxed_madd") {
        code.push(LOCAL_GET, 4, ...F32X4_RELAXED_MADD);
      } else {
        code.push(...F32X4_MUL, LOCAL_GET, 4, ...F32X4_ADD);
      }
      code.push(LOCAL_SET, ...uleb(acc(i)));
    }
  }
  // n -= 1; continue the loop; end loop; end block
  code.push(LOCAL_GET, 0, 0x41, 1, 0x6b, LOCAL_SET, 0, 0x0c, 0, 0x0b, 0x0b);
  for (let i = 0; i < chains; i++) {
    // v128.store align=2^4 offset=0 of accumulator i at 16 i
    code.push(0x41, ...sleb(16 * i), LOCAL_GET, ...uleb(acc(i)));
    code.push(...V128_STORE, 4, 0);
  }
  code.push(0x0b);
  const locals = vector([[...uleb(2 + chains), V128]]);
  return [...locals, ...code];
}

/** The module's bytes; see the module doc for what `run` computes. */
export function peakModuleBytes(loop: PeakLoop): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(loop.chains) || loop.chains < 1 || loop.chains > 64) {
    throw new RangeError(`chains must be 1 to 64, got ${loop.chains}`);
  }
  if (!Number.isInteger(loop.unroll) || loop.unroll < 1) {
    throw new RangeError(`unroll must be a whole number >= 1`);
  }
  const fn = body(loop);
  return new Uint8Array([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector([[0x60, ...vector([[I32], [F32], [F32]]), 0]])),
    ...section(3, vector([[0]])),
    ...section(5, vector([[0x00, 1]])), // one memory, at least 1 page
    ...section(
      7,
      vector([[...name("run"), 0x00, 0], [...name("memory"), 0x02, 0]]),
    ),
    ...section(10, vector([[...uleb(fn.length), ...fn]])),
  ]);
}

/** An instance's `run` and its accumulators after the last call. */
export interface PeakInstance {
  run: (n: number, x: number, y: number) => void;
  /** Accumulator i's 4 lanes at [4 i, 4 i + 4). */
  accumulators: () => Float32Array;
}

/** Compiles and instantiates `loop`'s module (throws if it does not validate). */
export async function instantiatePeak(
  loop: PeakLoop,
  bytes: Uint8Array<ArrayBuffer> = peakModuleBytes(loop),
): Promise<PeakInstance> {
  const { instance } = await WebAssembly.instantiate(bytes);
  const exports = instance.exports as {
    run: (n: number, x: number, y: number) => void;
    memory: WebAssembly.Memory;
  };
  return {
    run: exports.run,
    accumulators: () =>
      new Float32Array(exports.memory.buffer, 0, loop.chains * 4).slice(),
  };
}

/** Whether this engine has relaxed SIMD (the madd module validates). */
export function hasRelaxedSimd(): boolean {
  return WebAssembly.validate(
    peakModuleBytes({ variant: "relaxed_madd", chains: 1, unroll: 1 }),
  );
}
