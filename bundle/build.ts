/**
 * `deno task bundle`: writes `dist/simdnet.js`, one minified ES module with
 * no imports, from `src/serve/edge.ts`, with tfjs' two WebAssembly SIMD
 * builds embedded (base64, decoded only when the runtime starts one) next to
 * simdnet's kernels (already embedded by `src/kernels/kernel_binaries.ts`),
 * and beside it the single-threaded builds as `.wasm` files for hosts that
 * cannot compile embedded bytes.
 *
 * `deno bundle` (esbuild, fetched from npm on its first run) bundles for the
 * browser platform with an import map that adds three entries to deno.json's:
 * `node:worker_threads` becomes `bundle/node_worker_threads.ts` (web
 * Workers) and `node:module`/`node:url` the stand-ins of
 * `bundle/node_stubs.ts`, so the output needs no Node or Deno API.
 *
 * The bundle is built in CI and not committed: it changes with every source
 * file below `serve` and every dependency, and a 2 MB single-line file would
 * conflict on every merge; esbuild's version is fixed by Deno's.
 *
 * @module
 */

import { createRequire } from "node:module";
import { decodeBase64, encodeBase64 } from "../src/util/base64.ts";
import { relaxedPrivate, simdPrivate } from "../src/kernels/kernel_binaries.ts";
import {
  PLAIN_KERNELS,
  RELAXED_KERNELS,
  TFJS_SIMD_FILE,
} from "../src/runtime/precompiled_wasm.ts";

const ROOT = new URL("../", import.meta.url);
const DIST = new URL("dist/", ROOT);
const WORK = new URL(".build/", DIST);
const OUT = new URL("simdnet.js", DIST);

/** The bundle's size budget without a model, in bytes (issue #17). */
export const BUNDLE_BUDGET = 3 * 1024 * 1024;

function packageFile(name: string): Uint8Array {
  const require = createRequire(import.meta.url);
  return Deno.readFileSync(
    require.resolve(`@tensorflow/tfjs-backend-wasm/dist/${name}`),
  );
}

async function importMap(): Promise<Record<string, unknown>> {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("deno.json", ROOT)),
  ) as { imports: Record<string, string> };
  const here = (file: string) => new URL(file, import.meta.url).href;
  return {
    imports: {
      ...config.imports,
      "node:worker_threads": here("node_worker_threads.ts"),
      "node:module": here("node_stubs.ts"),
      "node:url": here("node_stubs.ts"),
    },
  };
}

function entrySource(): string {
  const simd = encodeBase64(packageFile("tfjs-backend-wasm-simd.wasm"));
  const threaded = encodeBase64(
    packageFile("tfjs-backend-wasm-threaded-simd.wasm"),
  );
  const edge = new URL("src/serve/edge.ts", ROOT).href;
  const base64 = new URL("src/util/base64.ts", ROOT).href;
  const prelude = new URL("bundle/prelude.ts", ROOT).href;
  // The prelude's import comes first: modules evaluate in import order.
  return `import { restoreNodeGlobals } from ${JSON.stringify(prelude)};
import { useWasmBinaries } from ${JSON.stringify(edge)};
import { decodeBase64 } from ${JSON.stringify(base64)};
restoreNodeGlobals();
const SIMD = ${JSON.stringify(simd)};
const THREADED = ${JSON.stringify(threaded)};
useWasmBinaries({
  get simd() { return decodeBase64(SIMD); },
  get threadedSimd() { return decodeBase64(THREADED); },
});
export * from ${JSON.stringify(edge)};
`;
}

/**
 * The single-threaded builds as files beside the bundle, for hosts that
 * compile WebAssembly only from the deployment's own `.wasm` modules
 * (Cloudflare Workers, Vercel Edge; see `usePrecompiledWasm`).
 */
async function writeWasmFiles(): Promise<void> {
  const files: [string, Uint8Array][] = [
    [TFJS_SIMD_FILE, packageFile(TFJS_SIMD_FILE)],
    [RELAXED_KERNELS, decodeBase64(relaxedPrivate)],
    [PLAIN_KERNELS, decodeBase64(simdPrivate)],
  ];
  for (const [name, bytes] of files) {
    await Deno.writeFile(new URL(name, DIST), bytes);
  }
}

/** Builds `dist/simdnet.js` and returns its size in bytes. */
export async function buildBundle(): Promise<number> {
  await Deno.mkdir(WORK, { recursive: true });
  try {
    const entry = new URL("entry.ts", WORK);
    const map = new URL("imports.json", WORK);
    await Deno.writeTextFile(entry, entrySource());
    await Deno.writeTextFile(map, JSON.stringify(await importMap()));
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform=browser",
        "--format=esm",
        "--minify",
        `--import-map=${map.pathname}`,
        `--output=${OUT.pathname}`,
        entry.pathname,
      ],
      cwd: ROOT.pathname,
      stdout: "inherit",
      stderr: "piped",
    }).output();
    if (code !== 0) {
      throw new Error(
        `deno bundle failed: ${new TextDecoder().decode(stderr).trim()}`,
      );
    }
  } finally {
    await Deno.remove(WORK, { recursive: true });
  }
  await writeWasmFiles();
  const text = await Deno.readTextFile(OUT);
  const imports = text.match(
    /\bimport\s*\(|\bimport\s*[\w{*][^;]*\bfrom\s*["']/,
  );
  if (imports) {
    throw new Error(`dist/simdnet.js still imports: "${imports[0]}"`);
  }
  return (await Deno.stat(OUT)).size;
}

if (import.meta.main) {
  const size = await buildBundle();
  const mb = (size / 1024 / 1024).toFixed(2);
  console.log(`dist/simdnet.js: ${size} bytes (${mb} MiB)`);
  if (size > BUNDLE_BUDGET) {
    console.error(`over the budget of ${BUNDLE_BUDGET} bytes`);
    Deno.exit(1);
  }
}
