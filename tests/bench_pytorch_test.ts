/**
 * The PyTorch side of the benchmarks: the environment its workers run in,
 * the build line that says which oneDNN, BLAS and instruction set ran, and
 * `--pytorch-isa`, which holds its native kernels to a vector width.
 */

import assert from "node:assert/strict";
import { isaCap, pytorchEnv, torchBuildLine } from "../bench/_pytorch.ts";

Deno.test("bench: the PyTorch build line names oneDNN, its ISA, the loaded BLAS and the CPU capability", () => {
  const config = `PyTorch built with:
  - Intel(R) MKL-DNN v2.6.3 (Git Hash N/A)
  - CPU capability usage: AVX2
  - Build settings: BLAS_INFO=generic, CXX_FLAGS=-ffile-prefix-map=/build/pytorch-BBcGlf/pytorch-1.13.1+dfsg=. -O2, USE_MKLDNN=ON,
`;
  assert.equal(
    torchBuildLine({
      version: "1.13.0a0",
      config,
      libraries: [
        "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3",
        "/usr/lib/x86_64-linux-gnu/openblas-openmp/liblapack.so.3",
      ],
    }),
    "PyTorch 1.13.0a0 (source 1.13.1+dfsg), oneDNN v2.6.3, BLAS=OpenBLAS (openmp) (BLAS_INFO=generic), CPU capability AVX2",
  );
  assert.equal(
    torchBuildLine({
      version: "1.13.0a0",
      config,
      libraries: ["/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3"],
      blas_core: "Haswell",
    }),
    "PyTorch 1.13.0a0 (source 1.13.1+dfsg), oneDNN v2.6.3, BLAS=OpenBLAS (openmp) with Haswell kernels (BLAS_INFO=generic), CPU capability AVX2",
  );
  assert.equal(
    torchBuildLine({
      version: "2.5.1+cpu",
      config:
        "  - oneDNN v3.5.3\n  - Build settings: BLAS_INFO=mkl, USE_MKLDNN=ON\n",
      libraries: [],
    }),
    "PyTorch 2.5.1+cpu, oneDNN v3.5.3, BLAS=mkl",
  );
  // The instruction set oneDNN reported, and the variable that capped it.
  const base = {
    version: "2.5.1+cpu",
    config: "  - oneDNN v3.5.3\n",
    libraries: [],
  };
  assert.equal(
    torchBuildLine({
      ...base,
      onednn_isa: "Intel AVX-512 with Intel DL Boost and bfloat16 support",
    }),
    "PyTorch 2.5.1+cpu, oneDNN v3.5.3, BLAS=unknown, oneDNN runs AVX-512 with DL Boost and bfloat16 support",
  );
  assert.equal(
    torchBuildLine(
      { ...base, onednn_isa: "Intel AVX2" },
      isaCap({ HOME: "/root", ONEDNN_MAX_CPU_ISA: "AVX2" }),
    ),
    "PyTorch 2.5.1+cpu, oneDNN v3.5.3, BLAS=unknown, oneDNN runs AVX2 (capped by ONEDNN_MAX_CPU_ISA=AVX2)",
  );
  assert.equal(isaCap({ DNNL_MAX_CPU_ISA: "SSE41" }), "DNNL_MAX_CPU_ISA=SSE41");
  assert.equal(isaCap({ HOME: "/root" }), undefined);
  assert.equal(isaCap({ OPENBLAS_CORETYPE: "Haswell" }), undefined);
  assert.equal(
    isaCap({ ONEDNN_MAX_CPU_ISA: "AVX2", OPENBLAS_CORETYPE: "Haswell" }),
    "ONEDNN_MAX_CPU_ISA=AVX2, OPENBLAS_CORETYPE=Haswell",
  );
  assert.equal(
    torchBuildLine({ ...base, onednn_isa: null }),
    "PyTorch 2.5.1+cpu, oneDNN v3.5.3, BLAS=unknown",
  );
});

Deno.test("bench: PyTorch runs with jemalloc settings, threads and no OpenBLAS overrides", () => {
  const saved = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"].map((k) =>
    [k, Deno.env.get(k)] as const
  );
  Deno.env.set("OPENBLAS_CORETYPE", "Haswell");
  Deno.env.set("OPENBLAS_L2_SIZE", "1");
  try {
    const env = pytorchEnv(2);
    assert.equal(env.OPENBLAS_CORETYPE, undefined);
    assert.equal(env.OPENBLAS_L2_SIZE, undefined);
    assert.equal(env.OMP_NUM_THREADS, "2");
    assert.equal(env.OMP_PROC_BIND, "close");
    assert.equal(pytorchEnv(1).OMP_PROC_BIND, undefined);
    if (env.LD_PRELOAD?.includes("jemalloc")) {
      assert.equal(env.MALLOC_CONF, "dirty_decay_ms:-1,muzzy_decay_ms:-1");
    }
  } finally {
    for (const [k, v] of saved) {
      v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
    }
  }
});

Deno.test("bench: --pytorch-isa adds PyTorch with oneDNN held to that instruction set", async () => {
  const { parseCompareArgs } = await import("../bench/compare.ts");
  const { parseStepArgs } = await import("../bench/step.ts");
  const { pytorchWorker } = await import("../bench/_workers.ts");
  const { UsageError } = await import("../src/cli/usage.ts");
  const parsed = parseCompareArgs(["--pytorch-isa", "avx2"]);
  assert.ok(parsed !== "help" && parsed.pytorchIsa === "AVX2");
  const step = parseStepArgs(["--pytorch-isa", "AVX512_CORE"]);
  assert.ok(step !== "help" && step.pytorchIsa === "AVX512_CORE");
  assert.throws(
    () => parseCompareArgs(["--pytorch-isa", "avx3"]),
    (e) =>
      e instanceof UsageError &&
      /--pytorch-isa avx3 is not a oneDNN instruction set; use one of SSE41, AVX, AVX2,/
        .test(e.message),
  );
  const plain = pytorchWorker("/usr/bin/python3", 2);
  assert.equal(plain.system, "pytorch");
  assert.equal(
    plain.env?.ONEDNN_MAX_CPU_ISA,
    Deno.env.get("ONEDNN_MAX_CPU_ISA"),
  );
  const capped = pytorchWorker("/usr/bin/python3", 2, "AVX2");
  assert.equal(capped.system, "pytorch-capped");
  assert.equal(capped.env?.ONEDNN_MAX_CPU_ISA, "AVX2");
  assert.equal(capped.env?.OPENBLAS_CORETYPE, "Haswell");
  assert.equal(
    pytorchWorker("/usr/bin/python3", 2, "AVX512_CORE").env?.OPENBLAS_CORETYPE,
    undefined,
  );
  assert.equal(capped.env?.OMP_NUM_THREADS, "2");
});
