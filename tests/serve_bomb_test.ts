/**
 * `deno task serve` as a subprocess against every hostile image: each is
 * answered within 2 s (4xx, or 200 for the valid file whose iCCP profile
 * would inflate to 1 GiB), the server's peak RSS stays under 1 GB, and a
 * normal image afterwards gets the label the classifier gives in-process.
 */

import assert from "node:assert/strict";
import { modelToArtifacts, saveModel } from "../src/nn/model_io.ts";
import { Classifier } from "../src/serve/classifier.ts";
import { pattern, png, tinyModel } from "./classify_fixtures.ts";
import {
  chunkBeforeIhdr,
  doubleIhdr,
  iccpBomb,
  idatBomb,
  palette16,
  paletteOutOfRange,
  progressiveBomb,
  rgba16Big,
  tallThin,
  tinyIdats,
  twoTrns,
} from "./_hostile_images.ts";

const SERVE = new URL("../src/cli/serve.ts", import.meta.url).pathname;

/** Peak resident memory of a process, in bytes (`VmHWM`). */
async function peakRss(pid: number): Promise<number> {
  // Deno asks for --allow-all to read /proc itself; `cat` needs only --allow-run.
  const out = await new Deno.Command("cat", { args: [`/proc/${pid}/status`] })
    .output();
  const status = new TextDecoder().decode(out.stdout);
  const kb = /VmHWM:\s+(\d+) kB/.exec(status);
  assert.ok(kb, "no VmHWM in /proc status");
  return Number(kb[1]) * 1024;
}

async function waitForPort(
  stream: ReadableStream<Uint8Array<ArrayBuffer>>,
): Promise<string> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`server stopped before listening: ${seen}`);
    seen += value;
    const match = /listening on http:\/\/127\.0\.0\.1:(\d+)\//.exec(seen);
    if (match) {
      (async () => {
        while (!(await reader.read()).done) { /* drain */ }
      })();
      return match[1]!;
    }
  }
}

const BOMBS: [string, () => Uint8Array, string, number][] = [
  ["IDAT inflating to 4.8 GB", idatBomb, "image/png", 400],
  ["iCCP inflating to 1 GiB (valid image)", iccpBomb, "image/png", 200],
  ["second IHDR (900 MP)", doubleIhdr, "image/png", 400],
  ["chunk before IHDR (900 MP)", chunkBeforeIhdr, "image/png", 400],
  ["1 x 40,000,000", tallThin, "image/png", 400],
  ["palette index out of range", paletteOutOfRange, "image/png", 400],
  ["palette at depth 16", palette16, "image/png", 400],
  ["two tRNS", twoTrns, "image/png", 400],
  ["360,000 one-byte IDATs (valid image)", tinyIdats, "image/png", 200],
  // 40 MP of 16-bit RGBA (320 MB once inflated) passes the pixel limit but
  // not the inflated-data limit (128 MiB), checked from the header.
  ["40 MP 16-bit RGBA", rgba16Big, "image/png", 400],
  [
    "JPEG 6,500 scans",
    () => progressiveBomb(4096, 4096, 6_500),
    "image/jpeg",
    400,
  ],
  [
    "JPEG 80,000 scans, 4.9 MB",
    () => progressiveBomb(6000, 6000, 80_000),
    "image/jpeg",
    400,
  ],
];

Deno.test("serve bombs: every hostile image answered fast, peak RSS < 1 GB, normal images still right", async () => {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_serve_bomb_" });
  const model = tinyModel(71);
  await saveModel(model, dir);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--allow-read",
      "--allow-net=127.0.0.1",
      "--allow-env=SIMDNET_THREADS",
      SERVE,
      "--model",
      dir,
      "--port",
      "0",
      "--backend",
      "cpu",
    ],
    stdout: "piped",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  try {
    const url = `http://127.0.0.1:${await waitForPort(child.stdout)}/classify`;
    const post = (body: Uint8Array, type: string) =>
      fetch(url, {
        method: "POST",
        headers: { "content-type": type },
        body: body as Uint8Array<ArrayBuffer>,
      });
    for (const [name, make, type, status] of BOMBS) {
      const body = make();
      const t = performance.now();
      const res = await post(body, type);
      const text = await res.text();
      const ms = performance.now() - t;
      console.log(
        `${name} (${body.length} bytes): ${res.status} in ${
          ms.toFixed(0)
        } ms: ${text.slice(0, 110)}`,
      );
      assert.equal(res.status, status, `${name}: ${text}`);
      assert.ok(ms < 2000, `${name} took ${ms.toFixed(0)} ms`);
    }
    const rss = await peakRss(child.pid);
    console.log(
      `server VmHWM after all bombs: ${(rss / 2 ** 20).toFixed(0)} MiB`,
    );
    assert.ok(rss < 1e9, `peak RSS ${rss}`);

    const image = png(pattern(40, 28, 3, 5), 40, 28, 3);
    const answer = await (await post(image, "image/png")).json();
    const { json, weights } = await modelToArtifacts(model);
    const local = await Classifier.fromBytes(json, weights, { backend: "cpu" });
    const [top] = await local.classify(image, { topK: 1 });
    local.dispose();
    assert.equal(answer.predictions[0].index, top!.index);
    assert.equal(answer.predictions[0].label, top!.label);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
