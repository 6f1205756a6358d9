import assert from "node:assert/strict";
import { datasetFiles, withTempDir, writeFiles } from "./_data_fixtures.ts";

const root = new URL("..", import.meta.url).pathname;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run <flags> src/cli/data.ts <args>` as a user would. */
async function runCli(
  flags: string[],
  args: string[],
): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", ...flags, "src/cli/data.ts", ...args],
    cwd: root,
    // An empty CIFAR10_DIR counts as unset, so a developer's own data does not leak in.
    env: { CIFAR10_DIR: "", NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const decode = (b: Uint8Array) => new TextDecoder().decode(b);
  return {
    code: out.code,
    stdout: decode(out.stdout),
    stderr: decode(out.stderr),
  };
}

function assertCleanError(run: Run, code: number, ...mentions: string[]): void {
  assert.equal(run.code, code, `exit code; stderr: ${run.stderr}`);
  // One line: what went wrong, then "; " and how to fix it.
  assert.match(run.stderr, /^error: [^\n]+; [^\n]+\n$/);
  assert.doesNotMatch(
    run.stderr,
    /^\s+at /m,
    "no stack trace for expected errors",
  );
  for (const m of mentions) {
    assert.ok(run.stderr.includes(m), `${run.stderr} should mention ${m}`);
  }
}

Deno.test("cli: prints counts per class and the source", async () => {
  await withTempDir(async (dir) => {
    await writeFiles(dir, datasetFiles());
    const run = await runCli([`--allow-read=${dir}`], [
      "--data",
      dir,
      "--lang",
      "ja",
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, new RegExp(`source: dir ${dir}`));
    assert.match(run.stdout, /train: 20 images/);
    assert.match(run.stdout, /test: 4 images/);
    // Fixture labels are (7i + salt) % 10 per batch; label 6 (カエル) occurs twice in train.
    assert.match(run.stdout, /6 カエル\s+2\n/);
  });
});

Deno.test("cli: bad data exits 2 with the file named", async () => {
  await withTempDir(async (dir) => {
    const files = datasetFiles();
    files.set("data_batch_3.bin", new Uint8Array(100));
    await writeFiles(dir, files);
    const run = await runCli([`--allow-read=${dir}`], ["--data", dir]);
    assertCleanError(run, 2, "data_batch_3.bin", "3073");
  });
});

Deno.test("cli: no network exits 3 and says where to put the archive", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  await withTempDir(async (dir) => {
    const run = await runCli(
      [
        `--allow-read=${dir}`,
        `--allow-write=${dir}`,
        "--allow-net=127.0.0.1",
        "--allow-env",
      ],
      ["--cache", `${dir}/cache`, "--url", `http://127.0.0.1:${port}/x.tar.gz`],
    );
    assertCleanError(
      run,
      3,
      `${dir}/cache/cifar-10-binary.tar.gz`,
      "--archive",
    );
    const left = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(left, ["cache"]);
    assert.deepEqual([...Deno.readDirSync(`${dir}/cache`)], []);
  });
});

Deno.test("cli: a refused read exits 4 and names the flag", async () => {
  await withTempDir(async (dir) => {
    await writeFiles(`${dir}/data`, datasetFiles());
    const run = await runCli([`--allow-read=${dir}/elsewhere`], [
      "--data",
      `${dir}/data`,
    ]);
    assertCleanError(run, 4, `--allow-read=${dir}/data`);
  });
});

Deno.test("cli: bad usage exits 64; --help exits 0", async () => {
  assertCleanError(await runCli([], ["--lang", "fr"]), 64, "--lang");
  assertCleanError(await runCli([], ["--limit", "ten"]), 64, "--limit");
  assertCleanError(await runCli([], ["--frobnicate"]), 64, "frobnicate");
  assertCleanError(await runCli([], ["--md5", "abc"]), 64, "--md5");
  const help = await runCli([], ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--data DIR/);
});
