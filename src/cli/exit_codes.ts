/**
 * Every process exit code of simdnet's CLIs and benchmark scripts, in one
 * table, so a shell script can tell failures apart. The codes from 64 on
 * follow BSD's sysexits.h.
 *
 * | code | meaning                                                   |
 * | ---: | --------------------------------------------------------- |
 * |    0 | success                                                   |
 * |    1 | a benchmark measured nothing (every system was skipped)   |
 * |    2 | bad or missing data or model files                        |
 * |    3 | network                                                   |
 * |    4 | permission (Deno's sandbox or the operating system)       |
 * |    5 | training diverged (NaN or infinite loss)                  |
 * |   64 | usage: an unknown flag or a bad flag value                |
 * |   69 | the backend cannot start, or the port is taken            |
 *
 * @module
 */

import type { DataError } from "../data/errors.ts";

/** Success. */
export const EXIT_OK = 0;
/** A benchmark ended without a single measured row. */
export const EXIT_NO_ROWS = 1;
/** Bad or missing data or model files (also checksum and corruption). */
export const EXIT_BAD_DATA = 2;
/** Network failures. */
export const EXIT_NETWORK = 3;
/** Refused reads or writes. */
export const EXIT_PERMISSION = 4;
/** Training diverged: the loss became NaN or infinite. */
export const EXIT_DIVERGED = 5;
/** Invalid command-line usage (sysexits' EX_USAGE). */
export const EXIT_USAGE = 64;
/** The backend cannot start or the port is taken (sysexits' EX_UNAVAILABLE). */
export const EXIT_UNAVAILABLE = 69;

/**
 * The process exit code for a {@linkcode DataError}: the data layer says
 * what went wrong, the CLI decides how the shell hears it.
 */
export function exitCodeFor(error: DataError): number {
  switch (error.code) {
    case "network":
      return EXIT_NETWORK;
    case "permission":
      return EXIT_PERMISSION;
    case "usage":
      return EXIT_USAGE;
    default:
      return EXIT_BAD_DATA;
  }
}
