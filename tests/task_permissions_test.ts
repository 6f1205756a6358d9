/**
 * Every user-facing task runs with the permissions deno.json gives it (read
 * from deno.json, see _tasks.ts), and a path outside them is one line naming
 * the flag to add, exit 4, no stack trace. Subprocesses run as a user would:
 * a temporary HOME, no XDG_RUNTIME_DIR, CIFAR10_DIR pointing at generated
 * batches.
 */

import assert from "node:assert/strict";
import { saveModel } from "../src/nn/model_io.ts";
import {
  datasetFiles,
  makeArchive,
  md5,
  writeFiles,
} from "./_data_fixtures.ts";
import { pattern, png, tinyModel } from "./classify_fixtures.ts";
import { ROOT, runTask, taskArgs, type TaskRun, userEnv } from "./_tasks.ts";

/** Exit `code` and exactly one stderr line, `error: ...; ...`, mentioning each of `mentions`. */
function assertOneLine(run: TaskRun, code: number, ...mentions: string[]) {
  assert.equal(run.code, code, run.stderr);
  assert.match(run.stderr, /^error: [^\n]+; [^\n]+\n$/, run.stderr);
  for (const m of mentions) {
    assert.ok(run.stderr.includes(m), `${run.stderr} should mention ${m}`);
  }
}

async function withHome(fn: (home: string) => Promise<void>): Promise<void> {
  const home = await Deno.makeTempDir({ prefix: "simdnet_tasks_" });
  try {
    await fn(home);
  } finally {
    await Deno.remove(home, { recursive: true });
  }
}

Deno.test("tasks: no task grants blanket write or env access", () => {
  for (
    const name of ["info", "data", "train", "evaluate", "classify", "serve"]
  ) {
    const args = taskArgs(name, { HOME: "/h" });
    assert.ok(!args.includes("--allow-write"), `${name}: ${args}`);
    assert.ok(!args.includes("--allow-env"), `${name}: ${args}`);
    assert.ok(!args.includes("-A") && !args.includes("--allow-all"), name);
  }
  for (const name of ["info", "serve"]) {
    assert.ok(taskArgs(name, {}).includes("--allow-read=."), name);
  }
});

Deno.test("tasks: data fills the cache under HOME or XDG_CACHE_HOME; refusals are one line", async () => {
  const good = await makeArchive();
  await withHome(async (home) => {
    await Deno.writeFile(`${home}/a.tar.gz`, good);
    const args = ["--archive", `${home}/a.tar.gz`, "--md5", md5(good)];
    const ok = await runTask("data", [...args, "--no-download"], userEnv(home));
    assert.equal(ok.code, 0, ok.stderr);
    await Deno.stat(`${home}/.cache/simdnet/cifar-10-batches-bin`);

    const xdg = userEnv(home, { XDG_CACHE_HOME: `${home}/xdg` });
    const viaXdg = await runTask("data", args, xdg);
    assert.equal(viaXdg.code, 0, viaXdg.stderr);
    await Deno.stat(`${home}/xdg/simdnet/cifar-10-batches-bin`);

    // A cache directory under a regular file: exit 2, naming both.
    await Deno.writeTextFile(`${home}/file`, "");
    const underFile = await runTask(
      "data",
      args,
      userEnv(home, { XDG_CACHE_HOME: `${home}/file` }),
    );
    assertOneLine(underFile, 2, `${home}/file/simdnet`, "XDG_CACHE_HOME");

    // A cache outside the grant: exit 4, naming the flag.
    const outside = await runTask("data", [
      ...args,
      "--cache",
      `${home}/elsewhere`,
    ], userEnv(home));
    assertOneLine(outside, 4, `--allow-write=${home}/elsewhere`);
  });
});

Deno.test("tasks: a tampered archive exits 2 with one line and leaves the cache untouched", async () => {
  const good = md5(await makeArchive());
  const files = datasetFiles();
  const batch = new Uint8Array(files.get("test_batch.bin")!);
  batch[0] = (batch[0]! + 1) % 10;
  files.set("test_batch.bin", batch);
  await withHome(async (home) => {
    await Deno.writeFile(`${home}/a.tar.gz`, await makeArchive(files));
    const run = await runTask(
      "data",
      ["--archive", `${home}/a.tar.gz`, "--md5", good],
      userEnv(home),
    );
    assertOneLine(run, 2, `${home}/a.tar.gz`, good);
    assert.deepEqual([...Deno.readDirSync(home)].map((e) => e.name), [
      "a.tar.gz",
    ]);
  });
});

/** Removes `path` (relative to the project) with a child allowed to: the tests may write /tmp only. */
async function removeInProject(path: string): Promise<void> {
  await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `await Deno.remove(${
        JSON.stringify(path)
      }, { recursive: true }).catch(() => {})`,
    ],
    cwd: ROOT,
    stdout: "null",
    stderr: "null",
  }).output();
}

Deno.test("tasks: train, evaluate, classify and serve work with their permissions and refuse other paths in one line", async () => {
  const out = `runs/.task-test-${crypto.randomUUID().slice(0, 8)}`;
  await withHome(async (home) => {
    await writeFiles(`${home}/data`, datasetFiles());
    const env = userEnv(home, { CIFAR10_DIR: `${home}/data` });
    const fast = ["--backend", "wasm", "--threads", "1"];
    try {
      const train = await runTask("train", [
        ...fast,
        "--epochs",
        "1",
        "--batch-size",
        "10",
        "--out",
        out,
      ], env);
      assert.equal(train.code, 0, train.stderr);
      assert.doesNotMatch(train.stderr, /XDG_RUNTIME_DIR/);

      const elsewhere = await runTask("train", [
        ...fast,
        "--out",
        `${home}/run`,
      ], env);
      assertOneLine(
        elsewhere,
        4,
        `--allow-write=${home}/run`,
        "deno task train",
      );

      const evaluate = await runTask(
        "evaluate",
        [...fast, "--model", out],
        env,
      );
      assert.equal(evaluate.code, 0, evaluate.stderr);
      await Deno.stat(`${ROOT}/${out}/evaluation/report.html`);

      await Deno.writeFile(`${home}/a.png`, png(pattern(9, 7, 3, 2), 9, 7, 3));
      const classify = await runTask("classify", [
        ...fast,
        "--model",
        out,
        `${home}/a.png`,
      ], env);
      assert.equal(classify.code, 0, classify.stderr);

      await assertServes(out, env);
      const model = tinyModel(3);
      await saveModel(model, `${home}/model`);
      model.dispose();
      const outsideModel = await runTask("serve", [
        ...fast,
        "--model",
        `${home}/model`,
      ], env);
      assertOneLine(outsideModel, 4, `--allow-read=${home}/model`);
    } finally {
      await removeInProject(out);
    }
  });
});

/** Starts the serve task on a free port, checks /healthz, stops it with SIGTERM. */
async function assertServes(
  model: string,
  env: Record<string, string>,
): Promise<void> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...taskArgs("serve", env),
      "--model",
      model,
      "--port",
      "0",
      "--backend",
      "wasm",
      "--threads",
      "1",
    ],
    cwd: ROOT,
    clearEnv: true,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let seen = "";
  try {
    const lines = child.stdout.pipeThrough(new TextDecoderStream());
    for await (const chunk of lines) {
      seen += chunk;
      const m = /listening on (http:\/\/\S+\/)/.exec(seen);
      if (m === null) continue;
      const health = await fetch(`${m[1]}healthz`);
      assert.equal(health.status, 200);
      await health.body?.cancel();
      break;
    }
  } finally {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    const status = await child.status;
    const err = await stderr;
    assert.equal(status.code, 0, `${seen}\n${err}`);
    assert.doesNotMatch(err, /XDG_RUNTIME_DIR|error/, err);
  }
}

Deno.test("tasks: info without its read permission names the directory to allow (exit 4)", async () => {
  await withHome(async (home) => {
    const env = userEnv(home);
    const args = taskArgs("info", env).filter((a) =>
      !a.startsWith("--allow-read")
    );
    const out = await new Deno.Command(Deno.execPath(), {
      args: [...args, "--backend", "wasm"],
      cwd: ROOT,
      clearEnv: true,
      env,
      stdin: "null",
    }).output();
    const run = {
      code: out.code,
      stdout: "",
      stderr: new TextDecoder().decode(out.stderr),
    };
    // Deno's own refusal names src/runtime/node_modules, the first place
    // require.resolve looks; allowing only that would fail on the next one.
    assertOneLine(run, 4, `--allow-read=${ROOT} `, "deno task info");
  });
});
