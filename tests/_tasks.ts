/**
 * Runs a `deno task` the way `deno task` would, with the flags read from
 * deno.json so the tests cannot drift from what users get, but as a direct
 * `deno run` child (whose pid is the program's, so a server can be stopped).
 *
 * The task shell expands `$VAR` (unset is empty; `${VAR:-x}` is not
 * supported, measured with Deno 2.9.6) and runs in the directory of
 * deno.json; both are reproduced here.
 */

export const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

const config = JSON.parse(
  await Deno.readTextFile(`${ROOT}/deno.json`),
) as { tasks: Record<string, string> };

/** The names of deno.json's tasks. */
export const TASK_NAMES: readonly string[] = Object.keys(config.tasks);

/** The `deno` arguments of task `name` with `$VAR`s expanded from `env`. */
export function taskArgs(
  name: string,
  env: Record<string, string>,
): string[] {
  const line = config.tasks[name];
  if (line === undefined) throw new Error(`deno.json has no task ${name}`);
  const words = line.trim().split(/\s+/).map((word) =>
    word.replace(/\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, v: string) => env[v] ?? "")
  );
  if (words[0] !== "deno") throw new Error(`task ${name} does not run deno`);
  return words.slice(1);
}

/**
 * Where Deno keeps its caches for this user: a temporary HOME must not move
 * it, or the child would fetch every npm package again.
 */
export const DENO_DIR = Deno.env.get("DENO_DIR") ??
  JSON.parse(
    new TextDecoder().decode(
      new Deno.Command(Deno.execPath(), { args: ["info", "--json"] })
        .outputSync().stdout,
    ),
  ).denoDir as string;

/**
 * A user's environment on a headless machine: `home` as HOME, no
 * XDG_RUNTIME_DIR, no XDG_CACHE_HOME, plus `extra`. Mesa puts its shader
 * cache under XDG_CACHE_HOME, else the passwd entry's home (not $HOME,
 * measured with strace), so tests that look for that cache set
 * XDG_CACHE_HOME to `${home}/.cache` in `extra`.
 */
export function userEnv(
  home: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    HOME: home,
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    DENO_DIR,
    NO_COLOR: "1",
    ...extra,
  };
}

/** Output of a finished task. */
export interface TaskRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs task `name` with `args` in `env` (and nothing else) to completion. */
export async function runTask(
  name: string,
  args: string[],
  env: Record<string, string>,
): Promise<TaskRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...taskArgs(name, env), ...args],
    cwd: ROOT,
    clearEnv: true,
    env,
    stdin: "null",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}
