/**
 * What every CLI shares: the body of `main()` ({@linkcode runCli}), usage
 * errors, and exit codes with their messages: 2 bad data or model, 3
 * network, 4 permission, 64 usage, 69 the backend or the port is
 * unavailable.
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import {
  DataError,
  EXIT_USAGE,
  exitCodeFor,
  parseRefusal,
} from "../data/errors.ts";
import { ModelFormatError } from "../nn/model_io.ts";
import { RuntimeError } from "../runtime/init.ts";
import { ImageDecodeError } from "../serve/image_decode.ts";

/** Exit code when the backend cannot start or the port is taken (EX_UNAVAILABLE). */
export const EXIT_UNAVAILABLE = 69;

/** A usage error, answered with exit code 64 and a pointer to --help. */
export function usageError(message: string): DataError {
  return new DataError("usage", message, "run with --help for the options");
}

/**
 * `parseArgs` in strict mode over `args`; an unknown flag or a missing value
 * becomes a usage error.
 */
export function parseFlags<O extends ParseArgsOptionsConfig>(
  args: string[],
  options: O,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (error) {
    throw usageError(error instanceof Error ? error.message : String(error));
  }
}

/** Parses a whole-number flag value, or throws a usage error. */
export function wholeFlag(
  value: string | undefined,
  flag: string,
  min: number,
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isInteger(n) || n < min) {
    throw usageError(
      `--${flag} must be a whole number >= ${min}, got ${value}`,
    );
  }
  return n;
}

/** One line on stderr: `error: <what went wrong>; <how to fix it>`. */
export function printError(message: string, hint?: string): void {
  console.error(`error: ${message}${hint ? `; ${hint}` : ""}`);
}

/**
 * The exit code for an expected failure, after printing it to stderr as
 * one line; `null` for anything else (a bug, to be rethrown). `task` names
 * the `deno task` whose permissions a permission error should point to.
 */
export function reportFailure(error: unknown, task: string): number | null {
  const say = printError;
  if (error instanceof DataError) {
    say(error.message, error.hint);
    return error.code === "usage" ? EXIT_USAGE : exitCodeFor(error);
  }
  if (error instanceof ModelFormatError || error instanceof ImageDecodeError) {
    say(error.message);
    return 2;
  }
  if (error instanceof RuntimeError) {
    say(error.message);
    return EXIT_UNAVAILABLE;
  }
  if (error instanceof Deno.errors.AddrInUse) {
    say(error.message, "pick another --port, or stop what uses this one");
    return EXIT_UNAVAILABLE;
  }
  if (error instanceof Deno.errors.NotCapable) {
    const refused = parseRefusal(error);
    say(
      refused === null
        ? error.message
        : `no ${refused.kind} permission for ${refused.target}`,
      `add ${
        refused?.flag ?? "the flag named above"
      } to the deno run flags ('deno task ${task}' has those in deno.json), or use a path they allow`,
    );
    return 4;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    say(error.message, "make it accessible to this user, or use another path");
    return 4;
  }
  if (error instanceof Deno.errors.NotFound) {
    say((error as Error).message, "check the path");
    return 2;
  }
  if (
    error instanceof TypeError && /fetch|network|connect/i.test(error.message)
  ) {
    say(error.message, "check the model URL and the network");
    return 3;
  }
  return null;
}

/** One CLI, as {@linkcode runCli} drives it. */
export interface Cli<A> {
  usage: string;
  /** The parsed arguments, or "help" for --help; throws usage errors. */
  parse: (args: string[]) => A | "help";
  /** Does the work; resolves to the exit code. */
  run: (parsed: A) => Promise<number>;
  /** Prints an expected failure and returns its exit code; null rethrows. */
  failure: (error: unknown) => number | null;
  print?: (line: string) => void;
}

/** The body of every CLI's `main()`: --help, the run, expected failures as exit codes. */
export async function runCli<A>(args: string[], cli: Cli<A>): Promise<number> {
  try {
    const parsed = cli.parse(args);
    if (parsed === "help") {
      (cli.print ?? console.log)(cli.usage);
      return 0;
    }
    return await cli.run(parsed);
  } catch (error) {
    const code = cli.failure(error);
    if (code === null) throw error;
    return code;
  }
}
