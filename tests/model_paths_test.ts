/**
 * Weight paths that try to leave the model's folder are refused before any
 * read: over http a recording server shows that nothing but `model.json`
 * was requested (and another origin got nothing); on disk the file each
 * path points at exists and holds valid weights for the model, so a loader
 * that read it would succeed instead of failing.
 */

import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { loadModel, WEIGHTS_FILE } from "../src/nn/model_io.ts";
import {
  assertModelError,
  recordingServer,
  tinyArtifacts,
  withPaths,
} from "./_model_fixtures.ts";

await tf.setBackend("cpu");

// Deno.symlink needs unscoped --allow-write, which the test task does not
// grant (only /tmp); `ln` under --allow-run makes the same link.
async function symlink(target: string, path: string): Promise<void> {
  const { code } = await new Deno.Command("ln", { args: ["-s", target, path] })
    .output();
  assert.equal(code, 0, `ln -s ${target} ${path}`);
}

const OUTSIDE = /weight file path .+ weight paths must be file names inside/;

/** Paths that escape `m/` towards `secret.bin` next to it, or to `other`. */
function vectors(other: string): string[] {
  return [
    "../secret.bin",
    "%2e%2e/secret.bin",
    "%2E%2E%2Fsecret.bin",
    "..%5csecret.bin",
    "..%5Csecret.bin",
    "..\\secret.bin",
    "sub/../../secret.bin",
    "sub/%2e%2e/%2e%2e/secret.bin",
    "%252e%252e/secret.bin",
    ".%2e/secret.bin",
    "/secret.bin",
    "%2fsecret.bin",
    "sub%2F..%2F..%2Fsecret.bin",
    `\\\\${other}\\m\\${WEIGHTS_FILE}`,
    `//${other}/m/${WEIGHTS_FILE}`,
    `/\\${other}/m/${WEIGHTS_FILE}`,
    `http://${other}/m/${WEIGHTS_FILE}`,
    `HTTP:${other}/m/${WEIGHTS_FILE}`,
    `${WEIGHTS_FILE}?../secret.bin`,
    `${WEIGHTS_FILE}#x`,
    "C:/secret.bin",
    "file:///etc/passwd",
    "%00secret.bin",
    "",
  ];
}

Deno.test("model paths: over http no traversal vector reaches a parent path or another origin", async () => {
  const { json, weights } = await tinyArtifacts();
  const other = recordingServer(
    new Map([[`/m/${WEIGHTS_FILE}`, weights], ["/secret.bin", weights]]),
  );
  const files = new Map<string, Uint8Array | string>([
    ["/secret.bin", weights],
    [`/m/${WEIGHTS_FILE}`, weights],
  ]);
  const http = recordingServer(files);
  try {
    for (const path of vectors(other.host)) {
      files.set("/m/model.json", JSON.stringify(withPaths(json, [path])));
      http.requests.length = 0;
      await assertModelError(
        loadModel(`${http.origin}/m/model.json`),
        OUTSIDE,
        path,
      );
      assert.deepEqual(http.requests, ["/m/model.json"], path);
    }
    // A same-origin shard that redirects elsewhere is refused, not followed.
    files.set(`/m/${WEIGHTS_FILE}`, `redirect:${other.origin}/m/x.bin`);
    files.set("/m/model.json", JSON.stringify(json));
    await assertModelError(
      loadModel(`${http.origin}/m/`),
      /weight file .+ redirects to .+; weight files are read only from the model's folder/,
      "a redirect",
    );
    assert.deepEqual(other.requests, []);
    // The unchanged model loads, so the refusals above are the checks'.
    files.set(`/m/${WEIGHTS_FILE}`, weights);
    (await loadModel(`${http.origin}/m/`)).dispose();
  } finally {
    await http.close();
    await other.close();
  }
});

Deno.test("model paths: on disk no traversal vector reads an existing file outside the folder", async () => {
  const { json, weights } = await tinyArtifacts();
  const root = await Deno.makeTempDir({ prefix: "simdnet_model_paths_" });
  try {
    await Deno.mkdir(`${root}/m/sub`, { recursive: true });
    await Deno.writeFile(`${root}/secret.bin`, weights);
    const escapes = [
      ...vectors("127.0.0.1:1"),
      `${root}/secret.bin`,
      `file://${root}/secret.bin`,
    ];
    for (const path of escapes) {
      await Deno.writeTextFile(
        `${root}/m/model.json`,
        JSON.stringify(withPaths(json, [path])),
      );
      for (const source of [`${root}/m`, `file://${root}/m/model.json`]) {
        await assertModelError(loadModel(source), OUTSIDE, `${source} ${path}`);
      }
    }
    // The control: the same file inside the folder loads.
    await Deno.writeFile(`${root}/m/${WEIGHTS_FILE}`, weights);
    await Deno.writeTextFile(`${root}/m/model.json`, JSON.stringify(json));
    (await loadModel(`${root}/m`)).dispose();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("model paths: a symlink out of the folder is refused, one inside it is followed", async () => {
  const { json, weights } = await tinyArtifacts();
  const root = await Deno.makeTempDir({ prefix: "simdnet_model_paths_" });
  try {
    await Deno.mkdir(`${root}/m/sub`, { recursive: true });
    await Deno.writeFile(`${root}/secret.bin`, weights);
    await Deno.writeTextFile(`${root}/m/model.json`, JSON.stringify(json));
    await symlink(`${root}/secret.bin`, `${root}/m/${WEIGHTS_FILE}`);
    await assertModelError(
      loadModel(`${root}/m`),
      /weight file .+ is a link to .+secret\.bin, outside the model's folder .+; copy the file into the folder/,
      "a link to a file outside",
    );
    // A linked directory on the way counts too.
    await symlink(root, `${root}/m/up`);
    await Deno.writeTextFile(
      `${root}/m/model.json`,
      JSON.stringify(withPaths(json, ["up/secret.bin"])),
    );
    await assertModelError(
      loadModel(`${root}/m`),
      /is a link to .+secret\.bin, outside the model's folder/,
      "a linked directory",
    );
    await Deno.writeFile(`${root}/m/sub/real.bin`, weights);
    await Deno.remove(`${root}/m/${WEIGHTS_FILE}`);
    await symlink("sub/real.bin", `${root}/m/${WEIGHTS_FILE}`);
    await Deno.writeTextFile(`${root}/m/model.json`, JSON.stringify(json));
    (await loadModel(`${root}/m`)).dispose();
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("model paths: a shard listed 300 times is refused before it is read at all", async () => {
  const { json, weights } = await tinyArtifacts();
  const files = new Map<string, Uint8Array | string>([
    [`/m/${WEIGHTS_FILE}`, weights],
  ]);
  const http = recordingServer(files);
  const root = await Deno.makeTempDir({ prefix: "simdnet_model_paths_" });
  try {
    const paths = Array.from({ length: 300 }, (_, i) =>
      // Spellings that resolve to the same file count as the same.
      i % 2 ? WEIGHTS_FILE : WEIGHTS_FILE.replace("1", "%31"));
    const text = JSON.stringify(withPaths(json, paths));
    files.set("/m/model.json", text);
    await assertModelError(
      loadModel(`${http.origin}/m/`),
      /weight file .+ is listed twice in the manifest/,
      "http",
    );
    assert.deepEqual(http.requests, ["/m/model.json"]);
    await Deno.mkdir(`${root}/m`);
    await Deno.writeFile(`${root}/m/${WEIGHTS_FILE}`, weights);
    await Deno.writeTextFile(`${root}/m/model.json`, text);
    await assertModelError(
      loadModel(`${root}/m`),
      /is listed twice in the manifest/,
      "disk",
    );
    // Distinct names over http: each Content-Length is checked before its
    // body is read, so only the first copy is read.
    const many = Array.from({ length: 300 }, (_, i) => `s${i}.bin`);
    many.forEach((p) => files.set(`/m/${p}`, weights));
    files.set("/m/model.json", JSON.stringify(withPaths(json, many)));
    http.requests.length = 0;
    await assertModelError(
      loadModel(`${http.origin}/m/`),
      /the weight files hold \d+ bytes but the manifest describes/,
      "distinct names",
    );
    assert.deepEqual(http.requests, [
      "/m/model.json",
      "/m/s0.bin",
      "/m/s1.bin",
    ]);
  } finally {
    await http.close();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("model paths: sources that name no local file or an unsupported scheme fail with one line", async () => {
  const cases: [string, RegExp][] = [
    ["file://otherhost/x/model.json", /names no local file/],
    ["file:///tmp/a%2fb/model.json", /names no local file/],
    ["data:,{}", /cannot load a model from a data: URL/],
    ["ftp://127.0.0.1/m/", /cannot load a model from a ftp: URL/],
    ["http://[::1", /is not a valid URL/],
  ];
  for (const [source, message] of cases) {
    await assertModelError(loadModel(source), message, source);
  }
});
