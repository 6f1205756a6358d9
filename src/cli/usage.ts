/**
 * The one error class for a wrong command line, answered with exit code 64
 * ({@linkcode EXIT_USAGE}) and a pointer to `--help`.
 *
 * @module
 */

import { EXIT_USAGE } from "./exit_codes.ts";

/** A bad command line: an unknown flag, a missing value or a value out of range. */
export class UsageError extends Error {
  override name = "UsageError";
  /** What the user can do about it. */
  readonly hint = "run with --help for the options";
  /** The exit code every CLI answers it with. */
  readonly exitCode = EXIT_USAGE;
}
