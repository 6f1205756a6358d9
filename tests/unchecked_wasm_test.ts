// bench:compare --unchecked and the README's note on it run simdnet with
// V8's WebAssembly bounds checks off and its experimental 256-bit
// revectorizer on (bench/_workers.ts' UNCHECKED_V8_FLAGS), which rewrites
// the kernels' inner loops. The kernel tests again, in such a process: the
// rewritten kernels still agree with the cpu backend, at 1 and 2 threads.
import assert from "node:assert/strict";
import { UNCHECKED_V8_FLAGS } from "../bench/_workers.ts";

const root = new URL("../", import.meta.url).pathname;

Deno.test("the kernels agree with cpu without bounds checks and with V8's revectorizer", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      UNCHECKED_V8_FLAGS,
      "--allow-read",
      "--allow-env",
      "tests/kernels_test.ts",
      "tests/kernels_winograd_odd_test.ts",
    ],
    cwd: root,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text.slice(-4000));
  assert.match(text, /ok \| \d+ passed \| 0 failed/);
});
