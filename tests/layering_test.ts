/**
 * The import rules of `src/`: each folder is a layer, and a file imports only
 * from its own layer or a lower one, in the order of {@linkcode LAYERS};
 * relative imports stay inside `src/`; and no chain of imports between files
 * comes back to where it started. Import specifiers are read from the source
 * text, so the test needs only read permission.
 */

import assert from "node:assert/strict";

/**
 * Lowest first: a layer may import from itself and from those before it.
 * `kernels` sits below `runtime`: the kernels need only `util` (and tfjs'
 * heap type, which `kernels/tfjs_heap.ts` owns), while the runtime compiles
 * and registers them at start-up and its relu gradient calls one of them.
 */
const LAYERS = [
  "util",
  "image",
  "kernels",
  "runtime",
  "nn",
  "data",
  "train",
  "metrics",
  "report",
  "serve",
  "cli",
] as const;

/**
 * Upward imports between layers tolerated for now, as "from -> to" of layer
 * names. Empty: add an entry only with the reason and who will remove it.
 */
const ALLOWED_LAYER_EDGES = new Set<string>([]);

/**
 * Single imports that break the rules, as "importer -> imported" paths
 * relative to the repository, each with the reason it is still here. Empty:
 * add an entry only with the reason and who will remove it.
 */
const ALLOWED_IMPORTS = new Set<string>([]);

const ROOT = new URL("../", import.meta.url);

async function sourceFiles(dir: URL, out: string[] = []): Promise<string[]> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) await sourceFiles(url, out);
    else if (/\.(ts|js)$/.test(entry.name)) {
      out.push(url.href.slice(ROOT.href.length));
    }
  }
  return out.sort();
}

// Static imports and re-exports at the start of a line (so not the examples
// inside JSDoc, whose lines start with " * "), side-effect imports, and
// dynamic imports with a literal specifier.
const STATIC =
  /^(?:import|export)(?:\s+type)?\s*(?:\{[^}]*\}|\*(?:\s+as\s+\w+)?|\w+(?:\s*,\s*(?:\{[^}]*\}|\*\s+as\s+\w+))?)\s*from\s*["']([^"']+)["']/gm;
const SIDE_EFFECT = /^import\s*["']([^"']+)["']/gm;
const DYNAMIC = /^[^*\n]*?\bimport\(\s*["']([^"']+)["']\s*\)/gm;

/** The module specifiers `source` imports. */
export function importSpecifiers(source: string): string[] {
  const found: string[] = [];
  for (const re of [STATIC, SIDE_EFFECT, DYNAMIC]) {
    for (const m of source.matchAll(re)) found.push(m[1]!);
  }
  return found;
}

/** Local imports of every file under src/, as repository-relative paths. */
async function importGraph(): Promise<Map<string, string[]>> {
  const graph = new Map<string, string[]>();
  for (const file of await sourceFiles(new URL("src/", ROOT))) {
    const text = await Deno.readTextFile(new URL(file, ROOT));
    const local = importSpecifiers(text)
      .filter((s) => s.startsWith("./") || s.startsWith("../"))
      .map((s) => new URL(s, new URL(file, ROOT)).href.slice(ROOT.href.length));
    graph.set(file, local);
  }
  return graph;
}

function layerOf(file: string): string | null {
  const m = /^src\/([^/]+)\//.exec(file);
  return m ? m[1]! : null;
}

Deno.test("layering: the parser finds every kind of import and skips comments", () => {
  const text = [
    'import * as tf from "@tensorflow/tfjs-core";',
    'import "./side.ts";',
    "import {",
    "  a,",
    "  type B,",
    '} from "../a.ts";',
    'import type { C } from "./c.ts";',
    'export { d } from "./d.ts";',
    'export * from "./e.ts";',
    'const f = await import("./f.ts");',
    ' * import { g } from "../../mod.ts";',
    '// import { h } from "./h.ts";',
  ].join("\n");
  assert.deepEqual(importSpecifiers(text).sort(), [
    "../a.ts",
    "./c.ts",
    "./d.ts",
    "./e.ts",
    "./f.ts",
    "./side.ts",
    "@tensorflow/tfjs-core",
  ]);
});

Deno.test("layering: src/ imports only its own layer or lower ones", async () => {
  const graph = await importGraph();
  assert.ok(graph.size > 50, `only ${graph.size} files found under src/`);
  const violations: string[] = [];
  for (const [file, imports] of graph) {
    const from = layerOf(file);
    assert.ok(
      from !== null && (LAYERS as readonly string[]).includes(from),
      `${file} is in no known layer: add its folder to LAYERS`,
    );
    for (const target of imports) {
      const edge = `${file} -> ${target}`;
      if (ALLOWED_IMPORTS.has(edge)) continue;
      const to = layerOf(target);
      if (to === null) {
        violations.push(`${edge} (outside src/)`);
      } else if (
        LAYERS.indexOf(to as typeof LAYERS[number]) >
          LAYERS.indexOf(from as typeof LAYERS[number]) &&
        !ALLOWED_LAYER_EDGES.has(`${from} -> ${to}`)
      ) {
        violations.push(`${edge} (${from} must not import ${to})`);
      }
    }
  }
  assert.deepEqual(violations, [], `layer order: ${LAYERS.join(" → ")}`);
});

Deno.test("layering: no import cycle between files", async () => {
  const graph = await importGraph();
  const done = new Set<string>();
  const path: string[] = [];
  const onPath = new Set<string>();
  const cycles: string[] = [];
  const visit = (file: string): void => {
    if (onPath.has(file)) {
      cycles.push([...path.slice(path.indexOf(file)), file].join(" -> "));
      return;
    }
    if (done.has(file)) return;
    path.push(file);
    onPath.add(file);
    for (const next of graph.get(file) ?? []) {
      if (!ALLOWED_IMPORTS.has(`${file} -> ${next}`)) visit(next);
    }
    path.pop();
    onPath.delete(file);
    done.add(file);
  };
  for (const file of graph.keys()) visit(file);
  assert.deepEqual(cycles, []);
});

Deno.test("layering: every allow-list entry is still needed", async () => {
  const graph = await importGraph();
  const stale = [...ALLOWED_IMPORTS].filter((edge) => {
    const [file = "", target] = edge.split(" -> ");
    return !(graph.get(file) ?? []).includes(target!);
  });
  assert.deepEqual(stale, [], "fixed: remove these from ALLOWED_IMPORTS");
});
