/**
 * `deno task info [--backend B] [--threads N] [--json]`: what simdnet runs on
 * here and why.
 *
 * @module
 */
import { parseArgs } from "node:util";
import * as tf from "@tensorflow/tfjs-core";
import { initRuntime } from "../runtime/init.ts";
import { reportFailure } from "./cli_errors.ts";
import { probeWebGpu } from "../runtime/webgpu.ts";
import type {
  BackendChoice,
  RuntimeInfo,
  WebGpuInfo,
} from "../runtime/types.ts";

/** Everything `info --json` prints. */
export interface InfoReport extends RuntimeInfo {
  deno: string;
  v8: string;
  tfjs: string;
  hardwareConcurrency: number;
}

/** Starts the runtime as asked and gathers the report. */
export async function gatherInfo(
  options: { backend?: BackendChoice; threads?: number } = {},
): Promise<InfoReport> {
  const info = await initRuntime(options);
  // A forced backend skips the probe; the report still says what exists.
  const webgpu: WebGpuInfo = info.webgpu.reason?.startsWith("not probed")
    ? await probeWebGpu()
    : info.webgpu;
  return {
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    tfjs: tf.version_core,
    hardwareConcurrency: navigator.hardwareConcurrency,
    ...info,
    webgpu,
  };
}

/** The human-readable form. */
export function formatInfo(r: InfoReport): string {
  const gpu = r.webgpu.available
    ? `${r.webgpu.description}${r.webgpu.software ? " (software)" : ""}`
    : `none (${r.webgpu.reason})`;
  return [
    `simdnet runtime`,
    `  backend        ${r.backend}`,
    `  why            ${r.reason}`,
    `  threads        ${r.threads} (of ${r.hardwareConcurrency} cores)`,
    `  WASM SIMD      ${r.simd ? "yes" : "no"}${
      r.relaxedSimd ? ", relaxed-SIMD FMA" : ""
    }`,
    `  WebGPU         ${gpu}`,
    `  Deno ${r.deno}, V8 ${r.v8}, tfjs ${r.tfjs}`,
  ].join("\n");
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      backend: { type: "string", default: "auto" },
      threads: { type: "string" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno task info [--backend auto|wasm|webgpu|cpu] [--threads N] [--json]",
    );
    Deno.exit(0);
  }
  try {
    const report = await gatherInfo({
      backend: values.backend as BackendChoice,
      threads: values.threads === undefined
        ? undefined
        : Number(values.threads),
    });
    console.log(
      values.json ? JSON.stringify(report, null, 2) : formatInfo(report),
    );
  } catch (err) {
    // One line and an exit code (69 backend, 4 permission), no stack trace.
    const code = reportFailure(err, "info");
    if (code === null) throw err;
    Deno.exit(code);
  }
}
