/**
 * `deno task info [--backend B] [--threads N] [--json]`: what simdnet runs on
 * here and why.
 *
 * Exit codes: 0 ok; 4 permission; 64 usage; 69 the requested backend cannot
 * start.
 *
 * @module
 */
import * as tf from "@tensorflow/tfjs-core";
import { initRuntime } from "../runtime/init.ts";
import { probeWebGpu } from "../runtime/webgpu.ts";
import {
  BACKEND_CHOICES,
  type BackendChoice,
  type RuntimeInfo,
  type WebGpuInfo,
} from "../runtime/types.ts";
import { EXIT_OK } from "./exit_codes.ts";
import { backendFlag, parseFlags, wholeFlag } from "./flags.ts";
import { reportFailure, runCli } from "./run_cli.ts";

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

const USAGE = `usage: deno task info [--backend ${
  BACKEND_CHOICES.join("|")
}] [--threads N] [--json]`;

/** Runs `deno task info` with `args`, printing with `print`; returns the exit code. */
export async function main(
  args: string[],
  print: (line: string) => void = console.log,
): Promise<number> {
  return await runCli(args, {
    usage: USAGE,
    parse: (args) => {
      const { values } = parseFlags(args, {
        backend: { type: "string", default: "auto" },
        threads: { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      });
      if (values.help) return "help";
      return {
        backend: backendFlag(values.backend),
        threads: wholeFlag(values.threads, "threads", 1),
        json: values.json,
      };
    },
    run: async ({ json, ...options }) => {
      const report = await gatherInfo(options);
      print(json ? JSON.stringify(report, null, 2) : formatInfo(report));
      return EXIT_OK;
    },
    // One line and an exit code (69 backend, 4 permission), no stack trace.
    failure: (error) => reportFailure(error, "info"),
    print,
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
