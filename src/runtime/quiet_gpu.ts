/**
 * Asking Deno's WebGPU for an adapter without Mesa's noise on headless Linux.
 *
 * Measured with Deno 2.9.6, Mesa 22.3.6 (lavapipe and llvmpipe, no GPU, no
 * `/dev/dri`), `XDG_RUNTIME_DIR` unset, one `requestAdapter()` per process:
 *
 * | environment during the call         | stderr                     | shader cache written | time   |
 * | ----------------------------------- | -------------------------- | -------------------- | ------ |
 * | as is                               | libwayland's line, twice   | yes                  | 172 ms |
 * | `XDG_RUNTIME_DIR=/abs/path`         | nothing                    | yes                  | 127 ms |
 * | `DENO_WEBGPU_BACKEND=vulkan`        | libwayland's line, twice   | no                   |  96 ms |
 * | both                                | nothing                    | no                   |  95 ms |
 *
 * libwayland-client prints "error: XDG_RUNTIME_DIR is invalid or not set in
 * the environment." when the variable is not an absolute path, and fails
 * silently when it is one without a Wayland socket. The shader cache
 * (`mesa_shader_cache/index`, 1.3 MB) comes from wgpu's GL backend starting
 * llvmpipe through EGL; Mesa puts it under `$XDG_CACHE_HOME`, else the home
 * directory of the passwd entry (not `$HOME`). Every `requestAdapter()`
 * enumerates the drivers afresh (a second call printed the line again once
 * the variables were restored), so they are set around each call and put back
 * right after; devices opened on the adapter keep working without them.
 *
 * Why not skip the probe where no GPU can exist (no render node in
 * `/dev/dri`): Deno refuses any access to `/dev`, `/sys` and `/proc` without
 * `--allow-all` ("Requires all access to "/dev/dri""), so the check is
 * impossible under the tasks' scoped permissions.
 *
 * Variables the user set are left alone, and nothing is changed without
 * `--allow-env` for them (no prompt is raised: permissions are queried).
 *
 * @module
 */

import type { GpuAdapterLike, GpuLike } from "./types.ts";

/** What is set during a request, when unset (or empty) and permitted. */
export const QUIET_GPU_ENV: Readonly<Record<string, string>> = Object.freeze({
  // Any absolute path without a Wayland socket: libwayland then fails quietly.
  XDG_RUNTIME_DIR: "/nonexistent/simdnet-no-wayland",
  // On Linux every hardware driver wgpu can use (Mesa's, NVIDIA's) has Vulkan;
  // the GL backend only adds llvmpipe, which auto refuses anyway.
  DENO_WEBGPU_BACKEND: "vulkan",
});

function mayUseEnv(name: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "env", variable: name })
      .state === "granted";
  } catch {
    return false;
  }
}

let depth = 0;
let saved = new Map<string, string | undefined>();

function enter(): void {
  // Browsers (the bundle) have no Deno and print nothing from Mesa.
  if (
    depth++ > 0 || typeof Deno === "undefined" || Deno.build.os !== "linux"
  ) return;
  saved = new Map();
  for (const [name, value] of Object.entries(QUIET_GPU_ENV)) {
    if (!mayUseEnv(name)) continue;
    const old = Deno.env.get(name);
    if (old !== undefined && old !== "") continue;
    saved.set(name, old);
    Deno.env.set(name, value);
  }
}

function leave(): void {
  if (--depth > 0) return;
  for (const [name, old] of saved) {
    if (old === undefined) Deno.env.delete(name);
    else Deno.env.set(name, old);
  }
  saved = new Map();
}

/**
 * `gpu` whose `requestAdapter()` runs with {@linkcode QUIET_GPU_ENV} set
 * (on Linux, for variables that are unset and that Deno may change), so
 * Mesa neither prints to the terminal nor writes a shader cache.
 */
export function quietGpu(gpu: GpuLike): GpuLike {
  return {
    async requestAdapter(
      options?: GPURequestAdapterOptions,
    ): Promise<GpuAdapterLike | null> {
      enter();
      try {
        return await gpu.requestAdapter(options);
      } finally {
        leave();
      }
    },
  };
}
