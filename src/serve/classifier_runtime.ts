/**
 * Starting the tensor runtime for a `Classifier` without touching files,
 * the environment or permission prompts when the caller gave bytes.
 *
 * @module
 */

import { type InitOptions, initRuntime, runtimeInfo } from "../runtime/init.ts";
import type { RuntimeInfo } from "../runtime/types.ts";

// The tfjs threaded build imports its memory; the single-threaded one
// defines its own. Choosing threads to match avoids a silent fallback when
// the caller hands over bytes of one build but asks for the other.
function binaryThreads(bytes: Uint8Array | ArrayBuffer): number | undefined {
  try {
    const module = new WebAssembly.Module(bytes as BufferSource);
    const threaded = WebAssembly.Module.imports(module).some((i) =>
      i.kind === "memory"
    );
    return threaded ? undefined : 1;
  } catch {
    return undefined; // initRuntime reports a bad binary itself
  }
}

/**
 * The runtime a classifier runs on: the one already started when the
 * options ask for nothing in particular, else {@linkcode initRuntime} with
 * them, choosing threads to match given bytes of a tfjs binary. Needs no file
 * or env access and raises no permission prompt when given bytes.
 */
export async function ensureRuntime(
  options: InitOptions,
): Promise<RuntimeInfo> {
  const asked = options.backend !== undefined ||
    options.threads !== undefined || options.wasmBinary !== undefined ||
    options.allowSoftwareGpu !== undefined;
  const running = runtimeInfo();
  if (running && !asked) return running;
  let threads = options.threads;
  const bin = options.wasmBinary;
  if (
    threads === undefined &&
    (bin instanceof Uint8Array || bin instanceof ArrayBuffer)
  ) {
    threads = binaryThreads(bin);
  }
  // Without `threads`, initRuntime's resolveThreads reads SIMDNET_THREADS
  // only if env access is already granted (no prompt), else takes all cores.
  return await initRuntime({ ...options, threads });
}
