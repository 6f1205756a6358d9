/**
 * Running code against the fast recipe's PyTorch replica
 * (bench/pytorch_fast.py) from a test: the Python with torch found as the
 * benchmarks find it (null without one: such tests are ignored), and a
 * runner with bench/ importable that passes JSON in on stdin and reads JSON
 * back from stdout.
 */

import assert from "node:assert/strict";
import { findPythonTorch } from "../bench/_pytorch.ts";
import { PYTORCH_FAST_SCRIPT } from "../bench/recipe_pytorch.ts";

/** The Python with torch, or null where there is none. */
export const torch = await findPythonTorch();

const benchDir = PYTORCH_FAST_SCRIPT.slice(
  0,
  PYTORCH_FAST_SCRIPT.lastIndexOf("/"),
);

/** Runs `code` with bench/ importable, `input` as JSON on stdin. */
export async function python<T>(code: string, input: unknown): Promise<T> {
  const child = new Deno.Command(torch!.python, {
    args: [
      "-c",
      `import sys; sys.path.insert(0, ${JSON.stringify(benchDir)})\n${code}`,
    ],
    env: { OMP_NUM_THREADS: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(input)));
  await writer.close();
  const out = await child.output();
  const err = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, `python failed: ${err}`);
  return JSON.parse(new TextDecoder().decode(out.stdout)) as T;
}
