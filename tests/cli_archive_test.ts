/**
 * `--archive` on every CLI that loads CIFAR-10 (the README's
 * `deno task train --archive cifar-10-binary.tar.gz`), through `main(args)`.
 * train and evaluate check the official md5, so a generated archive is
 * refused before anything is written; `data --md5` shows the success path.
 */

import assert from "node:assert/strict";
import { main as dataMain } from "../src/cli/data.ts";
import {
  main as evaluateMain,
  parseEvaluateArgs,
} from "../src/cli/evaluate.ts";
import { main as trainMain, parseTrainArgs } from "../src/cli/train.ts";
import { OFFICIAL_MD5 } from "../src/data/archive.ts";
import { saveModel } from "../src/nn/model_io.ts";
import { listTree, makeArchive, md5, withTempDir } from "./_data_fixtures.ts";
import { tinyModel } from "./classify_fixtures.ts";

/** Runs `fn` with env vars set (or removed, for undefined) and console.error captured. */
async function withEnvAndStderr(
  env: Record<string, string | undefined>,
  fn: () => Promise<number>,
): Promise<{ code: number; stderr: string[] }> {
  const saved = Object.keys(env).map((k) => [k, Deno.env.get(k)] as const);
  const stderr: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => stderr.push(args.join(" "));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) Deno.env.delete(k);
    else Deno.env.set(k, v);
  }
  try {
    return { code: await fn(), stderr };
  } finally {
    console.error = original;
    for (const [k, v] of saved) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
  }
}

function assertOneLine(stderr: string[], ...mentions: string[]): void {
  const text = stderr.join("\n");
  assert.equal(stderr.length, 1, text);
  assert.match(text, /^error: [^\n]+$/);
  for (const m of mentions) assert.ok(text.includes(m), `${text}: ${m}`);
}

Deno.test("archive flag: train and evaluate parse --archive", () => {
  const t = parseTrainArgs(["--archive", "cifar-10-binary.tar.gz"]);
  assert.ok(t !== "help");
  assert.equal(t.archive, "cifar-10-binary.tar.gz");
  const e = parseEvaluateArgs(["--model", "m", "--archive", "a.tar.gz"]);
  assert.ok(e !== "help");
  assert.equal(e.archive, "a.tar.gz");
});

Deno.test("archive flag: train --archive checks the official md5 and writes nothing (exit 2)", async () => {
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/a.tar.gz`, await makeArchive());
    const run = await withEnvAndStderr(
      { XDG_CACHE_HOME: `${dir}/xdg`, CIFAR10_DIR: undefined },
      () =>
        trainMain([
          "--backend",
          "cpu",
          "--archive",
          `${dir}/a.tar.gz`,
          "--out",
          `${dir}/run`,
        ]),
    );
    assert.equal(run.code, 2, run.stderr.join("\n"));
    assertOneLine(run.stderr, `${dir}/a.tar.gz`, OFFICIAL_MD5);
    assert.deepEqual(await listTree(dir), ["a.tar.gz"]);
  });
});

Deno.test("archive flag: evaluate --archive goes through the same loader (exit 2)", async () => {
  await withTempDir(async (dir) => {
    const model = tinyModel(5);
    await saveModel(model, `${dir}/model`);
    model.dispose();
    await Deno.writeFile(`${dir}/a.tar.gz`, await makeArchive());
    const run = await withEnvAndStderr(
      { XDG_CACHE_HOME: `${dir}/xdg`, CIFAR10_DIR: undefined },
      () =>
        evaluateMain([
          "--backend",
          "cpu",
          "--model",
          `${dir}/model`,
          "--archive",
          `${dir}/a.tar.gz`,
        ]),
    );
    assert.equal(run.code, 2, run.stderr.join("\n"));
    assertOneLine(run.stderr, `${dir}/a.tar.gz`, OFFICIAL_MD5);
    assert.deepEqual(await listTree(`${dir}/xdg`), []);
  });
});

Deno.test("archive flag: data --archive with its md5 fills the cache, then reads from it", async () => {
  const bytes = await makeArchive();
  await withTempDir(async (dir) => {
    await Deno.writeFile(`${dir}/a.tar.gz`, bytes);
    const args = [
      "--archive",
      `${dir}/a.tar.gz`,
      "--md5",
      md5(bytes),
      "--cache",
      `${dir}/cache`,
      "--no-download",
    ];
    const lines: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => lines.push(a.join(" "));
    try {
      // CI sets CIFAR10_DIR, which comes before the cache: clear it for
      // both runs.
      const first = await withEnvAndStderr(
        { CIFAR10_DIR: undefined },
        () => dataMain(args),
      );
      assert.equal(first.code, 0, first.stderr.join("\n"));
      const second = await withEnvAndStderr(
        { CIFAR10_DIR: undefined },
        () => dataMain(args),
      );
      assert.equal(second.code, 0, second.stderr.join("\n"));
    } finally {
      console.log = log;
    }
    assert.ok(lines[0]?.startsWith("source: archive "), lines[0] ?? "");
    assert.ok(lines.some((l) => l.startsWith("source: cache ")), lines.join());
  });
});
