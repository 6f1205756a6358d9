/**
 * The README is what users read first, so what it shows must be what the
 * code does: its TypeScript examples (and those of docs/ and ARCHITECTURE.md)
 * type-check against the current API, every `deno task` it names exists, every
 * task in deno.json is in its CLI section, and the grouped list of `train`'s
 * flags is exactly the flags `train --help` documents.
 */

import assert from "node:assert/strict";
import { DENO_DIR, ROOT, runTask, TASK_NAMES as tasks } from "./_tasks.ts";

const readme = await Deno.readTextFile(`${ROOT}/README.md`);

/** The text of README section `heading` (a `## ` line) up to the next one. */
function section(heading: string): string {
  const start = readme.indexOf(`\n## ${heading}\n`);
  assert.ok(start >= 0, `README has no "## ${heading}" section`);
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The `--flags` of a text, sorted and without repeats. */
function flagsOf(text: string): string[] {
  return [...new Set(text.match(/--[a-z][a-z0-9-]*/g) ?? [])].sort();
}

Deno.test("README, docs and ARCHITECTURE: every TypeScript example type-checks", async () => {
  const docs = [...Deno.readDirSync(`${ROOT}/docs`)]
    .filter((e) => e.name.endsWith(".md"))
    .map((e) => `docs/${e.name}`);
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--doc-only", "README.md", "ARCHITECTURE.md", ...docs],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).output();
  const errors = new TextDecoder().decode(stderr).split("\n")
    .filter((line) => /ERROR|^\s+at /.test(line)).join("\n");
  assert.equal(code, 0, `a code block does not type-check:\n${errors}`);
});

Deno.test("README: every `deno task` it names exists, and the CLI section lists every task", () => {
  const named = new Set(
    [...readme.matchAll(/deno task ([a-z][a-z:-]*[a-z])/g)].map((m) => m[1]!),
  );
  for (const name of named) {
    assert.ok(
      tasks.includes(name),
      `README names "deno task ${name}", which deno.json lacks`,
    );
  }
  const cli = section("CLI") + section("The two commands");
  for (const name of tasks) {
    assert.ok(
      cli.includes(`deno task ${name}`) || cli.includes(`\`${name}\``),
      `task ${name} is in deno.json but not in the README's CLI table`,
    );
  }
});

Deno.test("README: the grouped list of train's flags is exactly train --help's", async () => {
  const cli = section("CLI");
  const block = cli.match(/```text\n([\s\S]*?)```/);
  assert.ok(block, "the CLI section has no ```text block of train's flags");
  const { code, stdout } = await runTask("train", ["--help"], {
    HOME: Deno.env.get("HOME") ?? "/tmp",
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    DENO_DIR,
  });
  assert.equal(code, 0);
  const help = flagsOf(stdout)
    .filter((flag) => flag !== "--help");
  assert.ok(help.length > 40, `train --help lists ${help.length} flags`);
  assert.deepEqual(flagsOf(block[1]!), help);
});
