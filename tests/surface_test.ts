/**
 * The public surface: every subpath of `deno.json`'s `exports` resolves
 * under the package's name, each `src/<layer>/mod.ts` is exported and its
 * example runs in the test task, the root module stays small, and every
 * exported function and class has JSDoc (read with `deno doc --json`, so
 * this needs `--allow-run`).
 */

import assert from "node:assert/strict";

/**
 * Most names root `mod.ts` may export (55 when this was written, 59 since
 * `loadImageFolder`, `freezeLayers`, `replaceHead` and `modelMetadata`
 * joined): the root holds what training and classifying need, the rest
 * goes to a subpath.
 * Raise it only on purpose.
 */
const MAX_ROOT_EXPORTS = 60;

const ROOT = new URL("../", import.meta.url);

interface DenoJson {
  name: string;
  exports: Record<string, string>;
  tasks: Record<string, string>;
}

const config: DenoJson = JSON.parse(
  await Deno.readTextFile(new URL("deno.json", ROOT)),
);

// Entry points as repository-relative paths without "./", root first.
const entryFiles = Object.values(config.exports).map((p) => p.slice(2));

Deno.test("surface: every subpath of deno.json exports resolves under the package name", async () => {
  assert.equal(config.exports["."], "./mod.ts");
  for (const [subpath, path] of Object.entries(config.exports)) {
    const specifier = config.name + subpath.slice(1);
    const byName = await import(specifier);
    const byPath = await import(new URL(path, ROOT).href);
    assert.equal(byName, byPath, `${specifier} is not ${path}`);
    assert.ok(Object.keys(byName).length > 0, `${specifier} exports no value`);
  }
});

Deno.test("surface: each src/<layer>/mod.ts is a subpath and its example runs in the test task", async () => {
  const mods: string[] = [];
  for await (const entry of Deno.readDir(new URL("src/", ROOT))) {
    if (!entry.isDirectory) continue;
    const mod = `src/${entry.name}/mod.ts`;
    const exists = await Deno.stat(new URL(mod, ROOT)).then(
      () => true,
      () => false,
    );
    if (exists) mods.push(mod);
  }
  const exported = new Set(entryFiles);
  assert.deepEqual(mods.filter((m) => !exported.has(m)), [], "not exported");
  const docArgs = config.tasks.test!.split(" --doc ")[1]?.split(" ") ?? [];
  assert.deepEqual(
    entryFiles.filter((f) => !docArgs.includes(f)),
    [],
    "entry points missing from the test task's --doc files",
  );
});

interface DocDeclaration {
  kind: string;
  location: { filename: string; line: number };
  jsDoc?: { doc?: string };
  def?: { target?: { filename: string; line: number } };
}

interface DocSymbol {
  name: string;
  declarations: DocDeclaration[];
}

interface DocJson {
  nodes: Record<
    string,
    { module_doc?: { doc?: string }; symbols: DocSymbol[] }
  >;
}

async function docJson(): Promise<DocJson> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", ...entryFiles],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout));
}

let docCache: Promise<DocJson> | undefined;
const docs = (): Promise<DocJson> => docCache ??= docJson();

Deno.test("surface: root mod.ts stays under its export budget", async () => {
  const root = (await docs()).nodes[new URL("mod.ts", ROOT).href];
  assert.ok(root, "deno doc did not document mod.ts");
  const names = root.symbols.map((s) => s.name);
  assert.ok(
    names.length <= MAX_ROOT_EXPORTS,
    `mod.ts exports ${names.length} names (at most ${MAX_ROOT_EXPORTS}): ` +
      `move the new ones to a subpath`,
  );
});

Deno.test("surface: every entry point has a module doc, every exported function and class JSDoc, no private file", async () => {
  const { nodes } = await docs();
  // A symbol documented by an earlier entry point is a "reference" to its
  // declaration in later ones: index the declarations by place.
  const at = (l: { filename: string; line: number }) =>
    `${l.filename}:${l.line}`;
  const declared = new Map<string, DocDeclaration>();
  for (const node of Object.values(nodes)) {
    for (const s of node.symbols) {
      for (const d of s.declarations) {
        if (d.kind !== "reference") declared.set(at(d.location), d);
      }
    }
  }
  const problems: string[] = [];
  for (const file of entryFiles) {
    const node = nodes[new URL(file, ROOT).href];
    if (!node) {
      problems.push(`${file}: not documented`);
      continue;
    }
    if (!node.module_doc?.doc) problems.push(`${file}: no module doc`);
    for (const s of node.symbols) {
      for (const ref of s.declarations) {
        const d = ref.kind === "reference" && ref.def?.target
          ? declared.get(at(ref.def.target))
          : ref;
        if (!d) {
          problems.push(`${file}: ${s.name} (declaration not found)`);
          continue;
        }
        const base = d.location.filename.split("/").pop()!;
        if (base.startsWith("_")) {
          problems.push(`${file}: ${s.name} comes from private ${base}`);
        }
        if (
          (d.kind === "function" || d.kind === "class") && !d.jsDoc?.doc
        ) {
          problems.push(`${file}: ${d.kind} ${s.name} has no JSDoc`);
        }
      }
    }
  }
  assert.deepEqual(problems, []);
});
