/**
 * Finds a Python with PyTorch and the environment to run
 * bench/pytorch_cnn.py in "as the strongest user would run it here":
 *
 * - jemalloc preloaded, with `MALLOC_CONF=dirty_decay_ms:-1,muzzy_decay_ms:-1`
 *   so freed pages are kept for the next step instead of returned and
 *   faulted in again;
 * - the OpenMP build of OpenBLAS first on the library path, so that BLAS
 *   (Linear layers) shares PyTorch's OpenMP threads instead of starting its
 *   own pthreads next to them (convolutions run in oneDNN either way);
 * - `OPENBLAS_CORETYPE` and `OPENBLAS_L2_SIZE` removed, so OpenBLAS picks its
 *   kernels from the real CPU, and `OMP_NUM_THREADS` set to the threads used;
 * - with several threads, OpenMP threads bound to cores (`OMP_PROC_BIND`).
 *
 * Debian: `apt-get install -y python3-torch libopenblas0-openmp libjemalloc2`.
 *
 * @module
 */

import { fileURLToPath } from "node:url";

/** How to start a Python with PyTorch. */
export interface PythonTorch {
  python: string;
  version: string;
}

/** Where Debian's multiarch libraries live on this machine. */
function libDir(): string {
  const arch = Deno.build.arch === "aarch64" ? "aarch64" : "x86_64";
  return `/usr/lib/${arch}-linux-gnu`;
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * The first of `$SIMDNET_PYTHON`, `/usr/bin/python3` (where Debian's
 * python3-torch is) and `python3` that imports torch, or null.
 */
export async function findPythonTorch(): Promise<PythonTorch | null> {
  const candidates = [
    Deno.env.get("SIMDNET_PYTHON"),
    "/usr/bin/python3",
    "python3",
  ];
  for (const python of candidates) {
    if (!python) continue;
    try {
      const out = await new Deno.Command(python, {
        args: ["-c", "import torch; print(torch.__version__)"],
        stdout: "piped",
        stderr: "null",
      }).output();
      if (out.success) {
        return { python, version: new TextDecoder().decode(out.stdout).trim() };
      }
    } catch {
      // not installed: try the next
    }
  }
  return null;
}

/** oneDNN's values of `ONEDNN_MAX_CPU_ISA` (v2.x and v3.x). */
export const ONEDNN_ISAS = [
  "SSE41",
  "AVX",
  "AVX2",
  "AVX2_VNNI",
  "AVX512_CORE",
  "AVX512_CORE_VNNI",
  "AVX512_CORE_BF16",
  "AVX512_CORE_FP16",
  "AVX512_CORE_AMX",
  "ALL",
] as const;

/**
 * OpenBLAS's kernels of the same width as a capped oneDNN instruction set
 * (`OPENBLAS_CORETYPE`); AVX-512 caps leave OpenBLAS to pick.
 */
const OPENBLAS_CORE_FOR_ISA: Record<string, string> = {
  SSE41: "Nehalem",
  AVX: "Sandybridge",
  AVX2: "Haswell",
  AVX2_VNNI: "Haswell",
};

/**
 * The whole environment for a PyTorch run with `threads` threads, oneDNN
 * capped at `maxIsa` when given (`ONEDNN_MAX_CPU_ISA`).
 */
export function pytorchEnv(
  threads: number,
  maxIsa?: string,
): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  if (maxIsa) {
    env.ONEDNN_MAX_CPU_ISA = maxIsa;
    // The Linear layers run in OpenBLAS, which ignores oneDNN's variable:
    // hold its kernels to the same vector width.
    const core = OPENBLAS_CORE_FOR_ISA[maxIsa];
    if (core) env.OPENBLAS_CORETYPE = core;
  }
  const lib = libDir();
  const jemalloc = `${lib}/libjemalloc.so.2`;
  if (exists(jemalloc)) {
    env.LD_PRELOAD = env.LD_PRELOAD
      ? `${jemalloc}:${env.LD_PRELOAD}`
      : jemalloc;
    env.MALLOC_CONF = "dirty_decay_ms:-1,muzzy_decay_ms:-1";
  }
  const openmpBlas = `${lib}/openblas-openmp`;
  if (exists(openmpBlas)) {
    env.LD_LIBRARY_PATH = env.LD_LIBRARY_PATH
      ? `${openmpBlas}:${env.LD_LIBRARY_PATH}`
      : openmpBlas;
  }
  env.OMP_NUM_THREADS = String(threads);
  if (threads > 1) {
    // One OpenMP thread per core, not migrating: a few % on training here.
    // Not for 1 thread, which would be tied to core 0 whatever else runs.
    env.OMP_PROC_BIND = "close";
    env.OMP_PLACES = "cores";
  }
  return env;
}

/** Path of bench/pytorch_cnn.py. */
export const PYTORCH_SCRIPT: string = fileURLToPath(
  new URL("./pytorch_cnn.py", import.meta.url),
);

/** What bench/pytorch_build.py prints. */
export interface TorchBuildInfo {
  version: string;
  /** `torch.__config__.show()`. */
  config: string;
  /** Paths of the BLAS/LAPACK libraries the process loaded. */
  libraries: string[];
  /**
   * The instruction set oneDNN dispatched a convolution to (its verbose
   * "isa:" line, e.g. "Intel AVX-512 with Intel DL Boost and bfloat16
   * support"); null or absent when it did not say.
   */
  onednn_isa?: string | null;
  /** The kernels OpenBLAS picked (`openblas_get_corename`, e.g. "Haswell"). */
  blas_core?: string | null;
}

/**
 * The variables that hold PyTorch's native kernels to an instruction set in
 * `env`, as "NAME=value, ...": oneDNN's cap, and OpenBLAS's core when
 * oneDNN's is set (without one, the core is OpenBLAS's own pick).
 */
export function isaCap(env: Record<string, string>): string | undefined {
  const dnn = ["ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"].find((n) => env[n]);
  if (!dnn) return undefined;
  const blas = env.OPENBLAS_CORETYPE
    ? `, OPENBLAS_CORETYPE=${env.OPENBLAS_CORETYPE}`
    : "";
  return `${dnn}=${env[dnn]}${blas}`;
}

/** The BLAS a loaded library path is, e.g. "OpenBLAS (openmp)". */
function blasName(path: string): string {
  const p = path.toLowerCase();
  const flavour = p.includes("openmp")
    ? " (openmp)"
    : p.includes("pthread")
    ? " (pthread)"
    : "";
  if (p.includes("openblas")) return `OpenBLAS${flavour}`;
  if (p.includes("mkl")) return "MKL";
  if (p.includes("blis")) return `BLIS${flavour}`;
  if (/\/blas\/libblas\.so/.test(p)) return "reference BLAS";
  return p.split("/").pop() ?? p;
}

/**
 * One line on the PyTorch build, e.g. `PyTorch 1.13.0a0 (source
 * 1.13.1+dfsg), oneDNN v2.6.3, BLAS=OpenBLAS (openmp) with Haswell kernels
 * (BLAS_INFO=generic), CPU capability AVX2, oneDNN runs AVX-512 with DL
 * Boost and bfloat16 support`: the oneDNN (MKL-DNN) release, the instruction
 * set it picks on this CPU (512-bit vectors or 256-bit ones) and the BLAS
 * decide its convolutions and Linear layers. `cap` ({@linkcode isaCap})
 * names the variables that held them to an instruction set.
 */
export function torchBuildLine(info: TorchBuildInfo, cap?: string): string {
  const c = info.config;
  // Debian's torch reports 1.13.0a0; its source tree names the release.
  const source = c.match(/pytorch-(\d+\.\d+\.\d+[^=\s/]*)=/)?.[1];
  const version = source && !info.version.startsWith(source.split("+")[0]!)
    ? `${info.version} (source ${source})`
    : info.version;
  const dnnVersion = c.match(/(?:oneDNN|MKL-DNN)\s+v([\d.]+)/)?.[1];
  const onednn = dnnVersion
    ? `oneDNN v${dnnVersion}`
    : /USE_MKLDNN=ON/.test(c)
    ? "oneDNN"
    : "no oneDNN";
  const loaded = [
    ...new Set(
      info.libraries.filter((l) => !/lapack/i.test(l)).map(blasName),
    ),
  ];
  const blasInfo = c.match(/BLAS_INFO=([\w-]+)/)?.[1];
  const core = info.blas_core ? ` with ${info.blas_core} kernels` : "";
  const blas = loaded.length
    ? `BLAS=${loaded.join("+")}${core}${
      blasInfo ? ` (BLAS_INFO=${blasInfo})` : ""
    }`
    : `BLAS=${blasInfo ?? "unknown"}`;
  const capability = c.match(/CPU capability usage:\s*(\w+)/)?.[1];
  const isa = info.onednn_isa?.replace(/Intel /g, "");
  const capped = cap ? ` (capped by ${cap})` : "";
  return [
    `PyTorch ${version}`,
    onednn,
    blas,
    ...(capability ? [`CPU capability ${capability}`] : []),
    ...(isa ? [`oneDNN runs ${isa}${capped}`] : []),
  ].join(", ");
}

/** Path of bench/pytorch_build.py. */
export const PYTORCH_BUILD_SCRIPT: string = fileURLToPath(
  new URL("./pytorch_build.py", import.meta.url),
);

/**
 * The build line of `python`'s PyTorch as the benchmark workers run it
 * (the environment of {@linkcode pytorchEnv}, so the same BLAS), or null
 * when the script fails.
 */
export async function torchBuild(
  python: string,
  maxIsa?: string,
): Promise<string | null> {
  try {
    const env = pytorchEnv(1, maxIsa);
    const out = await new Deno.Command(python, {
      args: [PYTORCH_BUILD_SCRIPT],
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!out.success) return null;
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    return torchBuildLine(
      JSON.parse(lines.at(-1)!) as TorchBuildInfo,
      isaCap(env),
    );
  } catch {
    return null;
  }
}
