/**
 * Shared helpers of the hostile model file tests: the small test model's
 * files, a loopback http server that records every request, and an
 * assertion that a promise fails with a one-line `ModelFormatError`.
 */

import assert from "node:assert/strict";
import {
  ModelFormatError,
  type ModelJson,
  modelToArtifacts,
} from "../src/nn/model_io.ts";
import { tinyModel } from "./classify_fixtures.ts";

/** `model.json` and the weight bytes of the 10-class test model. */
export async function tinyArtifacts(
  seed = 21,
): Promise<{ json: ModelJson; weights: Uint8Array }> {
  const model = tinyModel(seed);
  try {
    return await modelToArtifacts(model);
  } finally {
    model.dispose();
  }
}

/** A deep copy of `json` whose first manifest group lists `paths`. */
export function withPaths(json: ModelJson, paths: string[]): ModelJson {
  const copy = structuredClone(json);
  copy.weightsManifest[0]!.paths = paths;
  return copy;
}

/** A loopback server answering from `files` (path to body) and logging each request. */
export function recordingServer(files: Map<string, Uint8Array | string>) {
  const requests: string[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => {
      const url = new URL(req.url);
      requests.push(url.pathname + url.search);
      const body = files.get(url.pathname);
      if (body === undefined) return new Response("not found", { status: 404 });
      if (typeof body === "string" && body.startsWith("redirect:")) {
        return Response.redirect(body.slice("redirect:".length), 302);
      }
      return new Response(body as BodyInit);
    },
  );
  return {
    origin: `http://127.0.0.1:${server.addr.port}`,
    host: `127.0.0.1:${server.addr.port}`,
    requests,
    close: () => server.shutdown(),
  };
}

/**
 * Asserts that `promise` rejects with a {@linkcode ModelFormatError} whose
 * message is one line matching `pattern`.
 */
export async function assertModelError(
  promise: Promise<unknown>,
  pattern: RegExp,
  what: string,
): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(e instanceof ModelFormatError, `${what}: ${e}`);
    assert.match(e.message, pattern, what);
    assert.ok(!e.message.includes("\n"), `${what}: one line: ${e.message}`);
    return true;
  }, what);
}
