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

/** The whole environment for a PyTorch run with `threads` threads. */
export function pytorchEnv(threads: number): Record<string, string> {
  const env = Deno.env.toObject();
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
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
