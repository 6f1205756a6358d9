/**
 * Flags that may also come from environment variables, as containers and
 * orchestrators configure programs: a flag on the command line wins over
 * its variable, and a bad value from a variable is reported by its name.
 *
 * @module
 */

import { UsageError } from "./usage.ts";

/** Reads one environment variable; undefined when unset. */
export type EnvReader = (name: string) => string | undefined;

/**
 * Reads a variable only when `--allow-env` grants it, so a run with fewer
 * names never prompts or fails: an ungranted variable counts as unset.
 */
export function permittedEnv(name: string): string | undefined {
  try {
    const state = Deno.permissions.querySync({ name: "env", variable: name });
    return state.state === "granted" ? Deno.env.get(name) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Fills each flag of `table` (flag name → variable name) that the command
 * line left unset from its variable, in place; returns the flags that came
 * from a variable, for {@linkcode nameEnvInError}. Empty variables count as
 * unset, as a blank `SIMDNET_PORT=` in a manifest means "no value".
 */
export function fillFromEnv(
  values: Record<string, unknown>,
  table: Readonly<Record<string, string>>,
  env: EnvReader,
): Map<string, string> {
  const used = new Map<string, string>();
  for (const [flag, name] of Object.entries(table)) {
    if (values[flag] !== undefined) continue;
    const value = env(name);
    if (value === undefined || value === "") continue;
    values[flag] = value;
    used.set(flag, name);
  }
  return used;
}

/**
 * Runs `parse`; a {@linkcode UsageError} about a flag whose value came from
 * a variable is rethrown naming the variable, since that is what to fix.
 */
export function nameEnvInError<T>(
  used: Map<string, string>,
  parse: () => T,
): T {
  try {
    return parse();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    for (const [flag, name] of used) {
      if (error.message.startsWith(`--${flag} `)) {
        throw new UsageError(
          `${name} (read for --${flag})${error.message.slice(flag.length + 2)}`,
        );
      }
    }
    throw error;
  }
}

/** The help lines of `table`: one `--flag  VARIABLE` per line. */
export function envHelp(table: Readonly<Record<string, string>>): string {
  return Object.entries(table)
    .map(([flag, name]) => `  ${`--${flag}`.padEnd(21)}${name}`)
    .join("\n");
}
