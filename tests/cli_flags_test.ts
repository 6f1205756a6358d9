/**
 * The plumbing the CLIs and benchmark scripts share: flag parsing, usage
 * errors and exit codes. Only parsing runs here; no benchmark is measured.
 */

import assert from "node:assert/strict";
import {
  EXIT_NO_ROWS,
  EXIT_UNAVAILABLE,
  EXIT_USAGE,
  exitCodeFor,
} from "../src/cli/exit_codes.ts";
import {
  backendFlag,
  parseFlags,
  RUNTIME_OPTIONS,
  runtimeFlags,
  wholeFlag,
} from "../src/cli/flags.ts";
import { reportFailure } from "../src/cli/run_cli.ts";
import { UsageError } from "../src/cli/usage.ts";
import { DataError } from "../src/data/errors.ts";
import { BACKEND_CHOICES } from "../src/runtime/types.ts";
import { main as compareMain, parseCompareArgs } from "../bench/compare.ts";
import { main as stepMain, parseStepArgs } from "../bench/step.ts";
import {
  main as profileMain,
  parseProfileArgs,
} from "../bench/profile_step.ts";

Deno.test("flags: runtime flags are validated into typed values", () => {
  const { values } = parseFlags(["--backend", "cpu", "--lang", "ja"], {
    ...RUNTIME_OPTIONS,
  });
  assert.deepEqual(runtimeFlags(values), {
    backend: "cpu",
    threads: undefined,
    lang: "ja",
  });
  assert.throws(
    () => runtimeFlags({ backend: "tpu" }),
    (e: unknown) =>
      e instanceof UsageError &&
      e.message === "--backend must be auto, wasm, webgpu or cpu, got tpu",
  );
  assert.throws(() => runtimeFlags({ lang: "fr" }), /--lang must be en or ja/);
  assert.throws(
    () => runtimeFlags({ threads: "0" }),
    /--threads must be a whole number >= 1, got 0/,
  );
  assert.throws(() => backendFlag("auto", ["wasm", "cpu"]), /wasm or cpu/);
  assert.equal(wholeFlag(undefined, "x", 1), undefined);
  assert.throws(() => parseFlags(["--nope"], {}), UsageError);
  assert.deepEqual([...BACKEND_CHOICES], ["auto", "wasm", "webgpu", "cpu"]);
});

Deno.test("exit codes: usage is 64 for the CLI's and the data layer's usage errors", () => {
  const quiet = console.error;
  console.error = () => {};
  try {
    assert.equal(reportFailure(new UsageError("bad"), "x"), EXIT_USAGE);
    const data = new DataError("usage", "bad option", "fix it");
    assert.equal(exitCodeFor(data), EXIT_USAGE);
    assert.equal(reportFailure(data, "x"), EXIT_USAGE);
    assert.equal(exitCodeFor(new DataError("network", "m", "h")), 3);
    assert.equal(EXIT_UNAVAILABLE, 69);
    assert.equal(EXIT_NO_ROWS, 1);
  } finally {
    console.error = quiet;
  }
});

Deno.test("bench: step is compare's training rows; usage errors exit 64", async () => {
  const step = parseStepArgs(["--steps", "3", "--rounds", "2"]);
  assert.ok(step !== "help");
  assert.deepEqual(step.trainOnly, { warmup: 3, steps: 3 });
  assert.equal(step.rounds, 2);
  const compare = parseCompareArgs(["--no-cpu"]);
  assert.ok(compare !== "help");
  assert.equal(compare.cpu, false);
  assert.equal(compare.trainOnly, undefined);
  assert.equal(compare.peak, true); // the WebAssembly SIMD peak by default
  const noPeak = parseCompareArgs(["--no-peak"]);
  assert.ok(noPeak !== "help" && noPeak.peak === false);
  const quiet = console.error;
  console.error = () => {};
  try {
    assert.equal(await stepMain(["--rounds", "0"]), EXIT_USAGE);
    assert.equal(await compareMain(["--seconds", "-1"]), EXIT_USAGE);
    assert.equal(await compareMain(["--bogus"]), EXIT_USAGE);
    assert.equal(await profileMain(["--backend", "auto"]), EXIT_USAGE);
    assert.equal(await profileMain(["--infer", "--augment"]), EXIT_USAGE);
    assert.equal(await profileMain(["--batch", "0"]), EXIT_USAGE);
  } finally {
    console.error = quiet;
  }
});

Deno.test("flags: bench:profile's batch follows what it profiles", () => {
  const pick = (args: string[]) => {
    const o = parseProfileArgs(args);
    assert.ok(o !== "help");
    return [o.infer, o.batch];
  };
  assert.deepEqual(pick([]), [false, 64]); // fit's batch in the notebook
  assert.deepEqual(pick(["--infer"]), [true, 256]); // bench:compare's infer row
  assert.deepEqual(pick(["--infer", "--batch", "1"]), [true, 1]);
  assert.deepEqual(pick(["--batch", "32"]), [false, 32]);
});
