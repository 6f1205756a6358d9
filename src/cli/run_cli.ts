/**
 * The body of every CLI's `main()` ({@linkcode runCli}): `--help`, the run,
 * and expected failures printed as one line and turned into the exit codes
 * of `./exit_codes.ts`.
 *
 * @module
 */

import { DataError, parseRefusal } from "../data/errors.ts";
import { ModelFormatError } from "../nn/model_io.ts";
import { RuntimeError } from "../runtime/init.ts";
import { ImageDecodeError } from "../image/image_decode.ts";
import {
  EXIT_BAD_DATA,
  EXIT_NETWORK,
  EXIT_OK,
  EXIT_PERMISSION,
  EXIT_UNAVAILABLE,
  EXIT_USAGE,
  exitCodeFor,
} from "./exit_codes.ts";
import { UsageError } from "./usage.ts";

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
  if (error instanceof UsageError) {
    say(error.message, error.hint);
    return EXIT_USAGE;
  }
  if (error instanceof DataError) {
    say(error.message, error.hint);
    return exitCodeFor(error);
  }
  if (error instanceof ModelFormatError || error instanceof ImageDecodeError) {
    say(error.message);
    return EXIT_BAD_DATA;
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
    return EXIT_PERMISSION;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    say(error.message, "make it accessible to this user, or use another path");
    return EXIT_PERMISSION;
  }
  if (error instanceof Deno.errors.NotFound) {
    say((error as Error).message, "check the path");
    return EXIT_BAD_DATA;
  }
  if (
    error instanceof TypeError && /fetch|network|connect/i.test(error.message)
  ) {
    say(error.message, "check the model URL and the network");
    return EXIT_NETWORK;
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
      return EXIT_OK;
    }
    return await cli.run(parsed);
  } catch (error) {
    const code = cli.failure(error);
    if (code === null) throw error;
    return code;
  }
}
