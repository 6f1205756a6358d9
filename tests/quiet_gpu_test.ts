/**
 * The WebGPU probe is quiet: no Mesa line on stderr and no shader cache
 * from commands that do not use WebGPU, on a headless machine without
 * XDG_RUNTIME_DIR. See src/runtime/quiet_gpu.ts for the measurements.
 */

import assert from "node:assert/strict";
import { saveModel } from "../src/nn/model_io.ts";
import { QUIET_GPU_ENV, quietGpu } from "../src/runtime/quiet_gpu.ts";
import type { GpuLike } from "../src/runtime/webgpu_adapter.ts";
import { pattern, png, tinyModel } from "./classify_fixtures.ts";
import { runTask, type TaskRun, userEnv } from "./_tasks.ts";

const linux = Deno.build.os === "linux";
const hasWebGpu = "gpu" in navigator;

/** A stand-in GPU that records the environment it was asked in. */
function recordingGpu(seen: Array<Record<string, string | undefined>>) {
  const gpu: GpuLike = {
    requestAdapter: () => {
      seen.push(
        Object.fromEntries(
          Object.keys(QUIET_GPU_ENV).map((k) => [k, Deno.env.get(k)]),
        ),
      );
      return Promise.resolve(null);
    },
  };
  return gpu;
}

Deno.test({
  name:
    "quiet gpu: the variables are set only during the request, and a user's own are kept",
  ignore: !linux,
  fn: async () => {
    const names = Object.keys(QUIET_GPU_ENV);
    const saved = names.map((k) => [k, Deno.env.get(k)] as const);
    try {
      for (const k of names) Deno.env.delete(k);
      const seen: Array<Record<string, string | undefined>> = [];
      await quietGpu(recordingGpu(seen)).requestAdapter();
      assert.deepEqual(seen[0], QUIET_GPU_ENV);
      for (const k of names) assert.equal(Deno.env.get(k), undefined, k);

      Deno.env.set("XDG_RUNTIME_DIR", "/run/user/1000");
      Deno.env.set("DENO_WEBGPU_BACKEND", "gl");
      await quietGpu(recordingGpu(seen)).requestAdapter();
      assert.deepEqual(seen[1], {
        XDG_RUNTIME_DIR: "/run/user/1000",
        DENO_WEBGPU_BACKEND: "gl",
      });
      assert.equal(Deno.env.get("DENO_WEBGPU_BACKEND"), "gl");
    } finally {
      for (const [k, v] of saved) {
        if (v === undefined) Deno.env.delete(k);
        else Deno.env.set(k, v);
      }
    }
  },
});

/** Asserts a run printed no Mesa line and left no shader cache in `home`. */
async function assertQuiet(run: TaskRun, home: string): Promise<void> {
  assert.equal(run.code, 0, run.stderr);
  assert.doesNotMatch(run.stderr, /XDG_RUNTIME_DIR|MESA|mesa/);
  const cache: string[] = [];
  try {
    for await (const e of Deno.readDir(`${home}/.cache`)) cache.push(e.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  assert.deepEqual(cache.filter((n) => n.startsWith("mesa_shader_cache")), []);
}

Deno.test({
  name:
    "quiet gpu: info and classify print no Mesa line and write no shader cache",
  ignore: !linux || !hasWebGpu,
  fn: async () => {
    const home = await Deno.makeTempDir({ prefix: "simdnet_quiet_" });
    try {
      // Mesa writes under XDG_CACHE_HOME when set; point it into the temp HOME.
      const env = userEnv(home, { XDG_CACHE_HOME: `${home}/.cache` });
      const info = await runTask("info", ["--json"], env);
      await assertQuiet(info, home);
      // The probe did run: without quieting it is exactly what printed the lines.
      assert.ok(
        !JSON.parse(info.stdout).webgpu.reason?.startsWith("not probed"),
      );

      const model = tinyModel(7);
      await saveModel(model, `${home}/model`);
      model.dispose();
      await Deno.writeFile(`${home}/a.png`, png(pattern(8, 8, 3, 1), 8, 8, 3));
      const classify = await runTask(
        "classify",
        ["--model", `${home}/model`, `${home}/a.png`],
        env,
      );
      await assertQuiet(classify, home);
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});
