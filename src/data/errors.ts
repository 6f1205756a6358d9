/**
 * Errors of the data layer: each names the problem and says how to fix it.
 *
 * @module
 */

/**
 * What went wrong, coarse enough for a CLI to pick an exit code
 * (`exitCodeFor` in `src/cli/exit_codes.ts`):
 * - `missing`: a file or directory is not there.
 * - `format`: a file has the wrong size or shape (e.g. not a multiple of 3073 bytes).
 * - `label`: a record has a label above 9.
 * - `corrupt`: a gzip or tar stream is damaged or truncated.
 * - `checksum`: an archive's md5 is not the expected one.
 * - `network`: a download failed or was cut off.
 * - `permission`: the OS or Deno's sandbox refused a read or a write.
 * - `usage`: a caller passed an invalid option.
 */
export type DataErrorCode =
  | "missing"
  | "format"
  | "label"
  | "corrupt"
  | "checksum"
  | "network"
  | "permission"
  | "usage";

/** An expected failure of the data layer, with a hint that tells the fix. */
export class DataError extends Error {
  /** What kind of failure this is. */
  readonly code: DataErrorCode;
  /** What the user can do about it, in one or two sentences. */
  readonly hint: string;
  /** The file or directory concerned, when there is one. */
  readonly path?: string;

  /** Creates an error; `message` says what is wrong, `hint` how to fix it. */
  constructor(
    code: DataErrorCode,
    message: string,
    hint: string,
    options?: { path?: string; cause?: unknown },
  ) {
    super(
      message,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = "DataError";
    this.code = code;
    this.hint = hint;
    if (options?.path !== undefined) this.path = options.path;
  }
}

function isPermissionError(error: unknown): boolean {
  // NotCapable is Deno's sandbox (a missing --allow-* flag); PermissionDenied
  // is the OS; a read-only file system has no error class of its own.
  return error instanceof Deno.errors.PermissionDenied ||
    error instanceof Deno.errors.NotCapable ||
    (error as { code?: unknown } | null)?.code === "EROFS";
}

/** What a sandbox refusal (`Deno.errors.NotCapable`) asked for. */
export interface Refusal {
  /** `read`, `write`, `env`, `net`, ... or `all`. */
  kind: string;
  /** The path, variable or host refused. */
  target: string;
  /** The flag that grants it: `--allow-write=/x`, or `--allow-all`. */
  flag: string;
}

/**
 * Reads Deno's refusal message ('Requires write access to "/x", run again
 * with the --allow-write flag'). Deno guards `/dev`, `/proc` and `/sys` as a
 * whole ('Requires all access'), which only `--allow-all` grants.
 */
export function parseRefusal(error: Error): Refusal | null {
  const m =
    /Requires (\w+) access to "([^"]*)", run again with the (--allow-[\w-]+) flag/
      .exec(error.message);
  if (m === null) return null;
  const [, kind = "", target = "", flag = ""] = m;
  return { kind, target, flag: kind === "all" ? flag : `${flag}=${target}` };
}

/** The Deno flag that would grant `action` on `path`, for hints. */
function flagFor(action: "read" | "write", path: string, error: Error): string {
  return parseRefusal(error)?.flag ?? `--allow-${action}=${path}`;
}

/**
 * Turns a file-system error from reading or writing `path` into a
 * {@linkcode DataError} with a useful hint; other errors are returned as is.
 */
export function fsError(
  error: unknown,
  action: "read" | "write",
  path: string,
): unknown {
  if (error instanceof DataError) return error;
  if (error instanceof Deno.errors.NotCapable) {
    return new DataError(
      "permission",
      `no permission to ${action} ${path}`,
      `run Deno with ${flagFor(action, path, error)} (or a parent directory)`,
      { path, cause: error },
    );
  }
  if (isPermissionError(error)) {
    return new DataError(
      "permission",
      `the operating system denied ${action} access to ${path}`,
      action === "read"
        ? `make it readable (chmod u+r ${path}) or run as a user who can read it`
        : "make it writable, or use another cache directory (XDG_CACHE_HOME, --cache DIR, or the cacheDir option)",
      { path, cause: error },
    );
  }
  if (error instanceof Deno.errors.NotFound) {
    return new DataError(
      "missing",
      `${path} does not exist`,
      "check the path",
      { path, cause: error },
    );
  }
  if (error instanceof Deno.errors.NotADirectory) {
    return new DataError(
      "missing",
      `${path} does not exist: a directory on its path is a file`,
      "check the path",
      { path, cause: error },
    );
  }
  return error;
}
