// The kernel table (src/kernels/table.ts) against what runs: the kernels
// tfjs has registered, the kernel module's exports, the AssemblyScript
// reads of every parameter block, and the checked parameter writes.
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs-core";
import { initRuntime } from "../src/runtime/init.ts";
import {
  BLOCKS,
  ENTRIES,
  ENTRY_NAMES,
  KERNELS,
  QUERY_NAMES,
  TFJS_KERNEL_NAMES,
} from "../src/kernels/table.ts";
import { isSimdnetKernel } from "../src/kernels/register.ts";
import { compileKernels, HeapKernels } from "../src/kernels/wasm_kernels.ts";
import type { ThreadPool } from "../src/kernels/thread_pool.ts";
import type { TfjsWasmModule } from "../src/kernels/tfjs_heap.ts";
import { type Entry, PARAM_WORDS } from "../src/kernels/params.ts";
import { MATMUL } from "../src/kernels/matmul.ts";
import { ADAM_UPDATE } from "../src/kernels/adam.ts";
import { RELU_GRAD_ENTRY } from "../src/kernels/relu_grad.ts";
import { assemblyScriptBlocks, BLOCKS_PATH } from "../wasm/blocks.ts";

const root = new URL("../", import.meta.url);

const matmulValues = {
  M: 4,
  N: 8,
  K: 2,
  a: 64,
  rsA: 2,
  csA: 1,
  b: 128,
  rsB: 8,
  csB: 1,
  c: 256,
  ldc: 8,
  acc: 0,
  batch: 1,
  bsA: 0,
  bsB: 0,
  bsC: 32,
  scratch: 1024,
  scratchStride: 4096,
};

Deno.test("a parameter block is written in declaration order, f32 fields as their bits", () => {
  const words = MATMUL.params.encode(matmulValues);
  assert.deepEqual([...words], Object.values(matmulValues));
  const adam = ADAM_UPDATE.params.encode({
    n: 3,
    w: 16,
    g: 32,
    m: 48,
    v: 64,
    wOut: 80,
    mOut: 96,
    vOut: 112,
    alpha: 0.1,
    beta1: 0.9,
    oneMinusBeta1: 1 - 0.9,
    beta2: 0.999,
    oneMinusBeta2: 1 - 0.999,
    epsilon: 1e-7,
  });
  const f32 = new Float32Array(adam.buffer);
  assert.equal(adam[0], 3);
  assert.equal(f32[8], Math.fround(0.1));
  assert.equal(f32[10], Math.fround(1 - 0.9));
  assert.equal(f32[13], Math.fround(1e-7));
});

Deno.test("a parameter block of the wrong length throws", () => {
  const { scratchStride: _, ...short } = matmulValues;
  assert.throws(
    // @ts-expect-error: a field missing, as a positional array once could be
    () => MATMUL.params.encode(short),
    /MatMul: a parameter block of 17 words, the kernel reads 18; missing scratchStride/,
  );
  assert.throws(
    // @ts-expect-error: an undeclared field
    () => MATMUL.params.encode({ ...matmulValues, extra: 1 }),
    /MatMul: a parameter block of 19 words, the kernel reads 18; undeclared extra/,
  );
  assert.throws(
    () => MATMUL.params.encode({ ...matmulValues, M: undefined as never }),
    /MatMul: field M must be a 32-bit integer, got undefined/,
  );
  assert.throws(
    () => MATMUL.params.encode({ ...matmulValues, K: 2.5 }),
    /field K must be a 32-bit integer/,
  );
});

Deno.test("HeapKernels.run checks the block before anything runs", () => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const wasm = {
    _malloc: () => 256,
    _free: () => {},
  } as unknown as TfjsWasmModule;
  const ran: [string, number][] = [];
  const pool = {
    limit: 1,
    threads: 1,
    run: (name: string, params: number) => ran.push([name, params]),
    // The real module's answer (tested against it below).
    query: (name: string) => name === "work_counter_offset" ? 64 : NaN,
  } as unknown as ThreadPool;
  const k = new HeapKernels(wasm, memory, pool, compileKernels(false));
  assert.throws(
    // @ts-expect-error: a field missing
    () => k.run(RELU_GRAD_ENTRY, { n: 4, dy: 16, y: 32 }),
    /ReluGrad: a parameter block of 3 words, the kernel reads 4; missing dx/,
  );
  assert.deepEqual(ran, []);
  // The block starts a cache line after the work counter, which every call
  // zeroes (malloc gave 256, already a line boundary).
  const words = new Int32Array(memory.buffer);
  words[256 / 4] = 7;
  k.run(RELU_GRAD_ENTRY, { n: 4, dy: 16, y: 32, dx: 48 });
  assert.deepEqual(ran, [["relu_grad", 320]]);
  assert.deepEqual([...new Int32Array(memory.buffer, 320, 4)], [4, 16, 32, 48]);
  assert.equal(words[256 / 4], 0);
});

Deno.test("the kernel module keeps its work counter a cache line before the block", async () => {
  const { ThreadPool } = await import("../src/kernels/thread_pool.ts");
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 16 });
  const pool = await ThreadPool.create(
    compileKernels(false).module,
    memory,
    1,
    [],
  );
  assert.equal(pool.query("work_counter_offset"), 64);
});

Deno.test("every declared kernel is registered for wasm, and nothing else of simdnet's", async () => {
  await initRuntime({ backend: "wasm" });
  for (const decl of KERNELS) {
    for (const name of Object.keys(decl.kernels)) {
      const k = tf.getKernel(name, decl.backend);
      assert.ok(k, `${decl.family}: ${name} is not registered`);
      assert.ok(isSimdnetKernel(k.kernelFunc), `${name} is tfjs' own`);
    }
  }
  const ours = tf.getKernelsForBackend("wasm")
    .filter((k) => isSimdnetKernel(k.kernelFunc))
    .map((k) => k.kernelName);
  assert.deepEqual(ours.toSorted(), TFJS_KERNEL_NAMES.toSorted());
});

Deno.test("the kernel module exports exactly the declared entry points and queries", () => {
  for (const shared of [false, true]) {
    const exported = WebAssembly.Module.exports(compileKernels(shared).module)
      .filter((e) => e.kind === "function")
      .map((e) => e.name);
    assert.deepEqual(
      exported.toSorted(),
      [...ENTRY_NAMES, ...QUERY_NAMES].toSorted(),
    );
  }
});

Deno.test("every parameter block fits the parameter area", () => {
  for (const b of BLOCKS) assert.ok(b.length <= PARAM_WORDS, b.name);
});

Deno.test(`${BLOCKS_PATH} is what the declarations generate`, async () => {
  const committed = await Deno.readTextFile(new URL(BLOCKS_PATH, root));
  assert.equal(committed, assemblyScriptBlocks());
});

// The text of `export function name(p: usize ...)` in wasm/assembly/.
async function entrySource(name: string): Promise<string> {
  const dir = new URL("wasm/assembly/", root);
  for await (const f of Deno.readDir(dir)) {
    const s = await Deno.readTextFile(new URL(f.name, dir));
    const i = s.indexOf(`export function ${name}(p: usize`);
    if (i >= 0) return s.slice(i, s.indexOf("\n}\n", i));
  }
  throw new Error(`no AssemblyScript function ${name}`);
}

Deno.test("AssemblyScript entry points read their own blocks by name, with the declared types", async () => {
  const names = new Set(BLOCKS.map((b) => b.name));
  const read = new Map<Entry["params"], Set<string>>();
  for (const e of ENTRIES) {
    const src = await entrySource(e.name);
    const block = e.params;
    const fields = block.fields;
    const seen = read.get(block) ?? new Set<string>();
    read.set(block, seen);
    assert.doesNotMatch(
      src,
      /\b(p32|f32At)\(p, *\d/,
      `${e.name}: a literal offset`,
    );
    for (const [, enumName, field] of src.matchAll(/\b([A-Z]\w*)\.(\w+)\b/g)) {
      if (!names.has(enumName!)) continue;
      assert.equal(
        enumName,
        block.name,
        `${e.name} reads ${enumName}.${field}`,
      );
      assert.ok(field! in fields, `${e.name}: ${block.name} has no ${field}`);
      seen.add(field!);
    }
    for (
      const [, fn, field] of src.matchAll(/\b(p32|f32At)\(p, \w+\.(\w+)\)/g)
    ) {
      const f32 = fields[field!] === "f32";
      assert.equal(fn === "f32At", f32, `${e.name} reads ${field} with ${fn}`);
    }
    for (const [, struct] of src.matchAll(/changetype<(\w+)>\(p\)/g)) {
      const s = BLOCKS.find((b) => b.name === struct && b.struct);
      assert.ok(s, `${e.name}: ${struct} is not a declared struct`);
      const prefix = Object.keys(fields).slice(0, s.length);
      assert.deepEqual(
        prefix,
        Object.keys(s.fields),
        `${block.name} starts with ${struct}`,
      );
      for (const f of prefix) seen.add(f);
    }
  }
  for (const [block, seen] of read) {
    const unread = Object.keys(block.fields).filter((f) => !seen.has(f));
    assert.deepEqual(unread, [], `${block.name}: fields no entry point reads`);
  }
});
