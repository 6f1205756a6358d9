/**
 * Cold start of the one-file bundle (`deno task bench:cold-start`): from
 * `import` to the first classification of one image by the seed CNN, each
 * round in a fresh Deno process with no permission (as an edge isolate
 * starts), so nothing compiled survives between rounds. Three ways:
 *
 * - `bundle, no threads`: `dist/simdnet.js` with `Worker` and
 *   `SharedArrayBuffer` deleted (most edge isolates);
 * - `bundle, threads`: the same file with them (all cores);
 * - `source`: the unbundled `Classifier` (Deno's module graph, npm
 *   resolution from its cache, the tfjs binary handed over as bytes).
 *
 * Each child times `import` (evaluating the module), `load` (runtime start:
 * tfjs' and simdnet's WASM compiled once for the isolate, threads started,
 * model built from bytes) and `first` (decode, resize and one forward pass),
 * after its inputs are decoded from its own source (`setup`, not counted).
 * `start` is the time from the process' origin to the child's first line
 * (Deno's start and parsing the child's source, which carries the model);
 * the parent also times the whole process, exit included. Medians over `--rounds`
 * (default 5), with the CPU and load: on a busy machine the figures are
 * upper bounds. Needs `deno task bundle` first.
 *
 * usage: deno task bench:cold-start [--rounds 5] [--backend auto|wasm]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { initRuntime } from "../src/runtime/init.ts";
import { cifarCnn } from "../src/nn/cifar_cnn.ts";
import { modelToArtifacts } from "../src/nn/model_io.ts";
import { encodePng } from "../src/image/png_encode.ts";
import { encodeBase64 } from "../src/util/base64.ts";
import { packageWasmUrl } from "../src/runtime/wasm_backend.ts";
import { machineLine } from "./_machine.ts";

const ROOT = new URL("../", import.meta.url);
const BUNDLE = new URL("dist/simdnet.js", ROOT);
const CLASSIFIER = new URL("src/serve/classifier.ts", ROOT);

type Way = "bundle, no threads" | "bundle, threads" | "source";

interface Phases {
  start: number;
  setup: number;
  import: number;
  load: number;
  first: number;
  process: number;
  threads: number;
}

function childSource(way: Way, data: Record<string, string>, backend: string) {
  const edge = way === "bundle, no threads";
  const source = way === "source";
  const spec = JSON.stringify(source ? CLASSIFIER.href : BUNDLE.href);
  return `
const ts = performance.now();
${edge ? "delete globalThis.Worker; delete globalThis.SharedArrayBuffer;" : ""}
const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
const json = ${JSON.stringify(data.json)};
const weights = bytes(${JSON.stringify(data.weights)});
const image = bytes(${JSON.stringify(data.image)});
${
    source
      ? `const wasmBinary = bytes(${JSON.stringify(data.wasm)});`
      : "const wasmBinary = undefined;"
  }
const t0 = performance.now();
const m = await import(${spec});
const t1 = performance.now();
const c = await m.Classifier.fromBytes(json, weights, { backend: ${
    JSON.stringify(backend)
  }, wasmBinary });
const t2 = performance.now();
await c.classify(image);
const t3 = performance.now();
console.log(JSON.stringify({ start: ts, setup: t0 - ts, import: t1 - t0, load: t2 - t1, first: t3 - t2, threads: c.runtime.threads }));
Deno.exit(0);
`;
}

async function round(
  way: Way,
  data: Record<string, string>,
  backend: string,
): Promise<Phases> {
  const args = way === "source"
    ? ["run", "--no-prompt", "--config", new URL("deno.json", ROOT).pathname]
    : ["run", "--no-prompt", "--no-config"];
  const start = performance.now();
  const child = new Deno.Command(Deno.execPath(), {
    args: [...args, "-"],
    cwd: ROOT.pathname,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(
    new TextEncoder().encode(childSource(way, data, backend)),
  );
  await writer.close();
  const out = await child.output();
  const process = performance.now() - start;
  const text = new TextDecoder().decode(out.stdout).trim();
  if (out.code !== 0) {
    throw new Error(
      `${way}: exit ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return { ...JSON.parse(text.split("\n").pop()!), process };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rounds: { type: "string", default: "5" },
      backend: { type: "string", default: "auto" },
    },
  });
  const rounds = Number(values.rounds);
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new Error(`--rounds must be a whole number >= 1, got ${rounds}`);
  }
  await Deno.stat(BUNDLE).catch(() => {
    throw new Error("dist/simdnet.js is missing: run `deno task bundle`");
  });
  await initRuntime({ backend: "cpu" });
  const { json, weights } = await modelToArtifacts(cifarCnn({ seed: 1 }));
  const pixels = new Uint8Array(96 * 64 * 3).map((_, i) => (i * 53) % 251);
  const data = {
    json: JSON.stringify(json),
    weights: encodeBase64(weights),
    image: encodeBase64(
      encodePng({ data: pixels, width: 96, height: 64, channels: 3 }),
    ),
    wasm: encodeBase64(
      await Deno.readFile(
        packageWasmUrl("tfjs-backend-wasm-threaded-simd.wasm"),
      ),
    ),
  };
  const ways: Way[] = ["bundle, no threads", "bundle, threads", "source"];
  const runs = new Map<Way, Phases[]>(ways.map((w) => [w, []]));
  // Interleaved, so that a change in the machine's load hits every way.
  for (let r = 0; r < rounds; r++) {
    for (const way of ways) {
      runs.get(way)!.push(await round(way, data, values.backend));
    }
  }
  console.log(`cold start, seed CNN, one 96x64 PNG, backend ${values.backend}`);
  console.log(`${machineLine()}, ${rounds} rounds, medians in ms`);
  console.log(
    "| way                | threads | start | setup | import | load | first | import to answer | process |",
  );
  console.log(
    "| ------------------ | ------- | ----- | ----- | ------ | ---- | ----- | ---------------- | ------- |",
  );
  for (const [way, list] of runs) {
    const m = (f: (p: Phases) => number) => median(list.map(f)).toFixed(0);
    console.log(
      `| ${way.padEnd(18)} | ${String(list[0]!.threads).padEnd(7)} | ${
        m((p) => p.start).padStart(5)
      } | ${m((p) => p.setup).padStart(5)} | ${
        m((p) => p.import).padStart(6)
      } | ${m((p) => p.load).padStart(4)} | ${
        m((p) => p.first).padStart(5)
      } | ${m((p) => p.import + p.load + p.first).padStart(16)} | ${
        m((p) => p.process).padStart(7)
      } |`,
    );
  }
}

if (import.meta.main) await main(Deno.args);
