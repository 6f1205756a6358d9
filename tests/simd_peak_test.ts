/**
 * The SIMD peak benchmark's module (bench/_simd_peak_module.ts): it is
 * valid WebAssembly, its loop computes what its doc says for both
 * variants, and measureSimdPeak runs on 1 thread and on workers. Only that
 * it computes and reports, never how fast: speed is for bench:peak.
 */

import assert from "node:assert/strict";
import {
  flopsPerLoop,
  hasRelaxedSimd,
  instantiatePeak,
  peakModuleBytes,
  type PeakVariant,
  sleb,
  uleb,
} from "../bench/_simd_peak_module.ts";
import { formatPeakTable, measureSimdPeak } from "../bench/simd_peak.ts";
import { cpuFamily, simdFlags } from "../bench/_machine.ts";

Deno.test("simd peak: LEB128 encodings of opcodes and immediates", () => {
  assert.deepEqual(uleb(0x105), [0x85, 0x02]); // f32x4.relaxed_madd
  assert.deepEqual(uleb(0xe4), [0xe4, 0x01]); // f32x4.add
  assert.deepEqual(uleb(0x13), [0x13]);
  assert.deepEqual(sleb(0), [0x00]);
  assert.deepEqual(sleb(48), [0x30]);
  assert.deepEqual(sleb(64), [0xc0, 0x00]); // bit 6 set: needs a second byte
  assert.deepEqual(sleb(240), [0xf0, 0x01]);
  assert.deepEqual(sleb(-1), [0x7f]);
});

const variants: PeakVariant[] = hasRelaxedSimd()
  ? ["relaxed_madd", "mul+add"]
  : ["mul+add"];

Deno.test("simd peak: both modules validate; relaxed SIMD is there in Deno's V8", () => {
  assert.ok(hasRelaxedSimd());
  for (const variant of variants) {
    for (const chains of [1, 8, 16, 64]) {
      const bytes = peakModuleBytes({ variant, chains, unroll: 4 });
      assert.ok(WebAssembly.validate(bytes), `${variant} ${chains}`);
    }
  }
  assert.throws(() =>
    peakModuleBytes({ variant: "mul+add", chains: 0, unroll: 1 })
  );
  assert.equal(flopsPerLoop({ variant: "mul+add", chains: 8, unroll: 4 }), 256);
});

Deno.test("simd peak: every accumulator ends at x^s i + y (x^s - 1) / (x - 1)", async () => {
  for (const variant of variants) {
    // 5 chains, 2 steps a loop, 3 loops: s = 6 steps; all exact in f32.
    const loop = { variant, chains: 5, unroll: 2 };
    const p = await instantiatePeak(loop);
    p.run(3, 2, 1);
    const acc = p.accumulators();
    assert.equal(acc.length, 20);
    for (let i = 0; i < 5; i++) {
      const want = 64 * i + 63; // 2^6 i + (2^6 - 1)
      assert.deepEqual([...acc.subarray(4 * i, 4 * i + 4)], [
        want,
        want,
        want,
        want,
      ]);
    }
    // x = 1: each step adds y; and n = 0 leaves the starting values.
    p.run(10, 1, 0.5);
    assert.deepEqual([...p.accumulators()].filter((_, k) => k % 4 === 0), [
      10,
      11,
      12,
      13,
      14,
    ]);
    p.run(0, 3, 3);
    assert.deepEqual([...p.accumulators()].filter((_, k) => k % 4 === 0), [
      0,
      1,
      2,
      3,
      4,
    ]);
    // Enough chains that locals need a two-byte index and stores a two-byte offset.
    const wide = await instantiatePeak({ variant, chains: 40, unroll: 1 });
    wide.run(2, 1, 1);
    assert.equal(wide.accumulators()[4 * 39 + 3], 41);
  }
});

Deno.test("simd peak: measureSimdPeak runs on 1 thread and on 2 workers", async () => {
  const peak = await measureSimdPeak({
    chains: [4, 8],
    seconds: 0.005,
    rounds: 1,
    threads: 2,
  });
  assert.equal(peak.rows.length, variants.length * 3);
  for (const r of peak.rows) {
    assert.ok(r.gflops > 0 && Number.isFinite(r.gflops), JSON.stringify(r));
    assert.equal(r.gflopsPerThread, r.gflops / r.threads);
  }
  assert.equal(peak.allThreads.threads, 2);
  assert.equal(
    peak.perCore,
    Math.max(...peak.rows.filter((r) => r.threads === 1).map((r) => r.gflops)),
  );
  assert.match(formatPeakTable(peak), /\| mul\+add \| \d+ \| 2 \|/);
  for (const g of [peak.kernelLoop.private, peak.kernelLoop.shared]) {
    assert.ok(g > 0 && Number.isFinite(g), JSON.stringify(peak.kernelLoop));
  }
});

Deno.test("machine: the SIMD flags of x86 and ARM cpuinfo", () => {
  const x86 =
    "processor\t: 0\nmodel name\t: X\nflags\t\t: fpu sse avx fma avx2 avx512f avx512bw\n\nprocessor\t: 1\nflags\t: sse\n";
  assert.deepEqual(simdFlags(x86), ["avx", "avx2", "fma", "avx512f"]);
  const arm = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimdhp sve\n";
  assert.deepEqual(simdFlags(arm), ["neon", "fp16", "sve"]);
  assert.deepEqual(simdFlags("nothing here"), []);
});

Deno.test("machine: the CPU family of x86 and ARM cpuinfo", () => {
  const x86 =
    "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nmodel\t\t: 2\nmodel name\t: AMD EPYC\n\nprocessor\t: 1\ncpu family\t: 25\nmodel\t\t: 17\n";
  assert.equal(cpuFamily(x86), "family 26 model 2");
  const arm =
    "processor\t: 0\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU part\t: 0xd0c\n";
  assert.equal(cpuFamily(arm), "implementer 0x41 part 0xd0c");
  assert.equal(cpuFamily("model name\t: X\n"), null);
});

Deno.test("simd peak: the 6x8 kernel loop adds n A^T B to C, over private and shared memory", async () => {
  const {
    instantiateKernel,
    kernelFlops,
    kernelLoopGflops,
    kernelModuleBytes,
    MAX_K,
  } = await import("../bench/_kernel_loop_module.ts");
  assert.equal(kernelFlops(10), 960);
  for (const relaxed of hasRelaxedSimd() ? [true, false] : [false]) {
    for (const shared of [false, true]) {
      const what = `relaxed ${relaxed}, shared ${shared}`;
      assert.ok(WebAssembly.validate(kernelModuleBytes({ relaxed, shared })));
      const k = await instantiateKernel({ relaxed, shared });
      assert.equal(k.a.buffer instanceof SharedArrayBuffer, shared, what);
      // Small integers: every product and sum is exact in float32.
      k.a.forEach((_, i) => (k.a[i] = (i % 7) - 3));
      k.b.forEach((_, i) => (k.b[i] = (i % 5) - 2));
      k.c.forEach((_, i) => (k.c[i] = i));
      const n = 3, steps = 11;
      const want = Float64Array.from(k.c);
      for (let t = 0; t < steps; t++) {
        for (let r = 0; r < 6; r++) {
          for (let j = 0; j < 8; j++) {
            want[r * 8 + j]! += n * k.a[t * 6 + r]! * k.b[t * 8 + j]!;
          }
        }
      }
      k.run(n, steps);
      assert.deepEqual([...k.c], [...want], what);
      k.run(0, steps); // no loops: C unchanged
      assert.deepEqual([...k.c], [...want], what);
      assert.throws(() => k.run(1, MAX_K + 1), RangeError);
      // The timing helper runs and reports a rate (never how fast).
      assert.ok(kernelLoopGflops(k, 1, 1) > 0, what);
    }
  }
});
