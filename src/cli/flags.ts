/**
 * Command-line parsing shared by the CLIs and the benchmark scripts: strict
 * `parseArgs`, number flags, and the runtime flags every command takes
 * (`--backend`, `--threads`, `--lang`), each validated into a typed value
 * or a {@linkcode UsageError}.
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { isLang, type Lang } from "../data/classes.ts";
import { BACKEND_CHOICES, type BackendChoice } from "../runtime/types.ts";
import { UsageError } from "./usage.ts";

/**
 * `parseArgs` in strict mode over `args`; an unknown flag or a missing value
 * becomes a {@linkcode UsageError}.
 */
export function parseFlags<O extends ParseArgsOptionsConfig>(
  args: string[],
  options: O,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (error) {
    throw new UsageError(
      error instanceof Error ? error.message : String(error),
    );
  }
}

/**
 * Parses a number flag that must pass `check`; `want` completes the message
 * "--flag must be …". Undefined stays undefined, so `?? default` applies.
 */
export function numberFlag(
  value: string | undefined,
  flag: string,
  check: (n: number) => boolean,
  want: string,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !check(n)) {
    throw new UsageError(`--${flag} must be ${want}, got ${value}`);
  }
  return n;
}

/** Parses a whole-number flag value >= `min`, or throws a usage error. */
export function wholeFlag(
  value: string | undefined,
  flag: string,
  min: number,
): number | undefined {
  return numberFlag(
    value,
    flag,
    (n) => Number.isInteger(n) && n >= min,
    `a whole number >= ${min}`,
  );
}

/** "a, b or c", for messages that list the allowed values. */
function alternatives(values: readonly string[]): string {
  return values.length < 2
    ? values.join("")
    : `${values.slice(0, -1).join(", ")} or ${values.at(-1)}`;
}

/**
 * Checks `--backend` against `allowed` (default every
 * {@linkcode BACKEND_CHOICES}); a benchmark that cannot run `auto` passes
 * fewer.
 */
export function backendFlag(
  value: string,
  allowed: readonly BackendChoice[] = BACKEND_CHOICES,
): BackendChoice {
  if (!(allowed as readonly string[]).includes(value)) {
    throw new UsageError(
      `--backend must be ${alternatives(allowed)}, got ${value}`,
    );
  }
  return value as BackendChoice;
}

/** Checks `--lang`: `en` or `ja`. */
export function langFlag(value: string): Lang {
  if (!isLang(value)) {
    throw new UsageError(`--lang must be en or ja, got ${value}`);
  }
  return value;
}

/**
 * The `parseArgs` options of {@linkcode runtimeFlags}, to spread into a
 * command's own: `{ ...RUNTIME_OPTIONS, model: { type: "string" } }`.
 */
export const RUNTIME_OPTIONS = {
  backend: { type: "string", default: "auto" },
  threads: { type: "string" },
  lang: { type: "string", default: "en" },
} as const satisfies ParseArgsOptionsConfig;

/** The runtime flags every command takes, validated. */
export interface RuntimeFlags {
  backend: BackendChoice;
  /** Undefined: all cores, or env `SIMDNET_THREADS` (see `resolveThreads`). */
  threads: number | undefined;
  lang: Lang;
}

/**
 * Validates `--backend`, `--threads` and `--lang` as parsed with
 * {@linkcode RUNTIME_OPTIONS}.
 *
 * @example
 * ```ts
 * import { parseFlags, RUNTIME_OPTIONS, runtimeFlags } from "./flags.ts";
 * const { values } = parseFlags(["--threads", "2"], RUNTIME_OPTIONS);
 * console.log(runtimeFlags(values)); // { backend: "auto", threads: 2, lang: "en" }
 * ```
 */
export function runtimeFlags(
  values: { backend?: string; threads?: string; lang?: string },
): RuntimeFlags {
  return {
    backend: backendFlag(values.backend ?? "auto"),
    threads: wholeFlag(values.threads, "threads", 1),
    lang: langFlag(values.lang ?? "en"),
  };
}
