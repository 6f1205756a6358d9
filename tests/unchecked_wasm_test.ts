// bench:compare --unchecked and the README run simdnet with V8's
// WebAssembly bounds checks off and its experimental 256-bit revectorizer
// on (bench/_workers.ts' UNCHECKED_V8_FLAGS), which rewrites the kernels'
// inner loops. The flags must change the speed and nothing else: the same
// kernels on the same inputs give the same bits with and without them, at
// 1 and 2 threads (tests/_unchecked_child.ts hashes every output).
import assert from "node:assert/strict";
import { UNCHECKED_V8_FLAGS } from "../bench/_workers.ts";

const root = new URL("../", import.meta.url).pathname;

async function outputHash(v8: string[], threads: number): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...v8,
      "--allow-read",
      "--allow-env",
      "tests/_unchecked_child.ts",
      String(threads),
    ],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(text, /^[0-9a-f]{8}$/);
  return text;
}

for (const threads of [1, 2]) {
  Deno.test(`the kernels give the same bits without bounds checks and with V8's revectorizer, ${threads} thread(s)`, async () => {
    const plain = await outputHash([], threads);
    const unchecked = await outputHash([UNCHECKED_V8_FLAGS], threads);
    assert.equal(unchecked, plain);
  });
}
