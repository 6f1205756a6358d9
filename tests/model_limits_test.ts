/**
 * Model files that would make the loader allocate or read gigabytes fail
 * first, fast and with memory staying low; malformed `model.json` files
 * fail with one line naming the file, and the classify CLI exits 2 on them
 * without a stack trace.
 */

import "@tensorflow/tfjs-backend-cpu";
import * as tf from "@tensorflow/tfjs-core";
import assert from "node:assert/strict";
import { main as classifyMain } from "../src/cli/classify.ts";
import {
  loadModel,
  modelFromArtifacts,
  type ModelJson,
  WEIGHTS_FILE,
} from "../src/nn/model_io.ts";
import {
  assertModelError,
  recordingServer,
  tinyArtifacts,
} from "./_model_fixtures.ts";
import { pattern, png } from "./classify_fixtures.ts";

await tf.setBackend("cpu");

type Json = Record<string, unknown>;
const layersOf = (j: ModelJson) => j.modelTopology.config.layers;
const specsOf = (j: ModelJson) => j.weightsManifest[0]!.weights;

/** Runs `load`, asserting it fails as `pattern` says in under `ms` with RSS growing under 64 MB. */
async function failsFast(
  load: () => Promise<unknown>,
  pattern: RegExp,
  what: string,
  ms = 500,
): Promise<void> {
  const rss = Deno.memoryUsage().rss;
  const start = performance.now();
  await assertModelError(load(), pattern, what);
  const took = performance.now() - start;
  const grew = Deno.memoryUsage().rss - rss;
  assert.ok(took < ms, `${what}: took ${took.toFixed(0)} ms`);
  assert.ok(grew < 64 * 2 ** 20, `${what}: RSS grew ${grew >> 20} MB`);
}

async function writeModel(dir: string, json: unknown, weights: Uint8Array) {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeFile(`${dir}/${WEIGHTS_FILE}`, weights);
  await Deno.writeTextFile(`${dir}/model.json`, JSON.stringify(json));
}

Deno.test("model limits: Dense units or Conv2D filters that disagree with the manifest fail before a 16 GB build", async () => {
  const { json, weights } = await tinyArtifacts();
  const dir = await Deno.makeTempDir({ prefix: "simdnet_model_limits_" });
  try {
    const dense = structuredClone(json);
    layersOf(dense)[4]!.config.units = 2 ** 24; // kernel [256, 2^24]: 16 GiB
    const conv = structuredClone(json);
    layersOf(conv)[0]!.config.filters = 2 ** 20;
    for (
      const [what, j, message] of [
        [
          "dense",
          dense,
          /weight 'dense\/kernel' has shape \[256,10\] in the manifest, but the topology needs \[256,16777216\]/,
        ],
        [
          "conv",
          conv,
          /weight 'conv2d\/kernel' has shape \[3,3,3,4\] in the manifest, but the topology needs \[3,3,3,1048576\]/,
        ],
      ] as const
    ) {
      await failsFast(
        () => Promise.resolve().then(() => modelFromArtifacts(j, weights)),
        message,
        `${what} from bytes`,
      );
      await writeModel(dir, j, weights);
      await failsFast(() => loadModel(dir), message, `${what} from disk`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("model limits: a declared 4 GB layer fails in well under a second, whatever the manifest says", async () => {
  const { json, weights } = await tinyArtifacts();
  const dir = await Deno.makeTempDir({ prefix: "simdnet_model_limits_" });
  try {
    const big = structuredClone(json);
    layersOf(big)[4]!.config.units = 2 ** 22; // 2^30 parameters: 4 GiB
    specsOf(big)[2]!.shape = [256, 2 ** 22];
    specsOf(big)[3]!.shape = [2 ** 22];
    const limit =
      /the model has \d+ parameters \(4112\.0 MiB, the largest 'dense\/kernel' \[256,4194304\]\), more than the limit of 512\.0 MiB/;
    await failsFast(
      () => Promise.resolve().then(() => modelFromArtifacts(big, weights)),
      limit,
      "from bytes",
    );
    await writeModel(dir, big, weights);
    await failsFast(() => loadModel(dir), limit, "from disk");
    // With the limit raised, the file sizes (stat) still stop it unread.
    await failsFast(
      () => loadModel(dir, { limits: { maxWeightBytes: 2 ** 33 } }),
      /weight 'dense\/kernel' needs bytes 448\.\.4294967744 but the weight files hold only 10728 bytes/,
      "limit raised",
    );
    const wide = structuredClone(json);
    (layersOf(wide)[0]!.config as Json).batch_input_shape = [
      null,
      8192,
      8192,
      3,
    ];
    specsOf(wide)[2]!.shape = [2048 * 2048 * 4, 10]; // the manifest agrees
    await failsFast(
      () => Promise.resolve().then(() => modelFromArtifacts(wide, weights)),
      /the output of layer 'conv2d' has 268435456 values per image \[8192,8192,4\], more than the limit of 4194304/,
      "a huge input",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("model limits: shard sizes are compared with the manifest (stat) before any weight byte is read", async () => {
  const { json, weights } = await tinyArtifacts();
  const dir = await Deno.makeTempDir({ prefix: "simdnet_model_limits_" });
  try {
    // 64 MiB declared, within the limits; the shard is a 96 MiB sparse
    // file, so reading it would take 96 MiB of memory, and stat costs none.
    const mid = structuredClone(json);
    layersOf(mid)[4]!.config.units = 2 ** 16;
    specsOf(mid)[2]!.shape = [256, 2 ** 16];
    specsOf(mid)[3]!.shape = [2 ** 16];
    await writeModel(dir, mid, weights);
    await Deno.truncate(`${dir}/${WEIGHTS_FILE}`, 96 * 2 ** 20);
    await failsFast(
      () => loadModel(dir),
      /the weight files hold 100663296 bytes but the manifest describes 67371456/,
      "a sparse shard",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("model limits: an oversized model.json is not read past the limit, on disk or over http", async () => {
  const { json, weights } = await tinyArtifacts();
  const dir = await Deno.makeTempDir({ prefix: "simdnet_model_limits_" });
  const files = new Map<string, Uint8Array | string>();
  const http = recordingServer(files);
  try {
    const padded = { ...json, padding: "x".repeat(4096) };
    await writeModel(dir, padded, weights);
    files.set("/model.json", JSON.stringify(padded));
    const limits = { maxJsonBytes: 2048 };
    const tooBig =
      /model .+model\.json is larger than the 2048 bytes expected of it/;
    await failsFast(() => loadModel(dir, { limits }), tooBig, "disk");
    await failsFast(() => loadModel(http.origin, { limits }), tooBig, "http");
    await failsFast(
      () => loadModel(dir, { limits: { maxShards: 0 } }),
      /lists 1 weight files, more than the limit of 0/,
      "shards",
    );
  } finally {
    await http.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Malformed variants of the test model, each with what its error says. */
function malformed(json: ModelJson): [string, unknown, RegExp][] {
  const edit = (f: (j: ModelJson) => void): ModelJson => {
    const j = structuredClone(json);
    f(j);
    return j;
  };
  const shape = (s: unknown) =>
    edit((j) => (specsOf(j)[0]! as unknown as Json).shape = s);
  return [
    [
      "a directory as weight path",
      edit((j) => j.weightsManifest[0]!.paths = ["sub"]),
      /weight file .+sub is a directory, not a file; the manifest's paths must name the shard files/,
    ],
    [
      "a NaN shape",
      shape(["NaN"]),
      /weight 'conv2d\/kernel' has no valid shape \(up to 8 whole sizes >= 0\): \["NaN"\]/,
    ],
    ["an infinite shape", shape([1e999]), /has no valid shape .+\[null\]/],
    ["a negative shape", shape([3, 3, -3, 4]), /has no valid shape/],
    ["a huge shape", shape([2 ** 53, 3, 3, 4]), /has no valid shape/],
    [
      "a deep shape",
      shape(JSON.parse("[".repeat(5000) + "]".repeat(5000))),
      /has no valid shape .*: \[\[\[/,
    ],
    [
      "an unknown dtype",
      edit((j) => (specsOf(j)[0]! as unknown as Json).dtype = "float64"),
      /has dtype "float64"; simdnet loads float32 weights only/,
    ],
    ["a shape as text", shape("3,3,3,4"), /has no valid shape .*: "3,3,3,4"/],
    [
      "units as text",
      edit((j) => layersOf(j)[4]!.config.units = "10"),
      /layer 'dense' \(Dense\) units must be a whole number >= 1, got "10"/,
    ],
    [
      "no weightsManifest",
      edit((j) => delete (j as Partial<ModelJson>).weightsManifest),
      /has no valid weightsManifest/,
    ],
    [
      "paths not strings",
      edit((j) => (j.weightsManifest[0] as Json).paths = [7]),
      /has no valid weightsManifest/,
    ],
    [
      "layers not a list",
      edit((j) => (j.modelTopology.config as Json).layers = {}),
      /the topology lists no layers/,
    ],
    [
      "a layer name object",
      edit((j) => layersOf(j)[1]!.config.name = { a: 1 }),
      /a MaxPooling2D layer has name \{"a":1\}/,
    ],
    [
      "no topology",
      { weightsManifest: json.weightsManifest },
      /has no modelTopology/,
    ],
    ["not JSON", '{"modelTopology": [', /is not valid JSON/],
  ];
}

Deno.test("model limits: malformed model.json files fail with one line naming the file", async () => {
  const { json, weights } = await tinyArtifacts();
  const root = await Deno.makeTempDir({ prefix: "simdnet_model_limits_" });
  try {
    for (const [what, j, message] of malformed(json)) {
      const dir = `${root}/${what.replaceAll(" ", "_")}`;
      await writeModel(dir, j, weights);
      await Deno.mkdir(`${dir}/sub`);
      if (typeof j === "string") {
        await Deno.writeTextFile(`${dir}/model.json`, j);
      }
      await assertModelError(loadModel(dir), message, what);
      // The file named is model.json, or the weight file that is wrong.
      await assertModelError(
        loadModel(dir),
        new RegExp(`^(weight file )?${dir}/(model\\.json|sub)[: ]`),
        `${what} names the file`,
      );
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("model limits: the classify CLI exits 2 with one line and no stack trace on each malformed model", async () => {
  const { json, weights } = await tinyArtifacts();
  const root = await Deno.makeTempDir({ prefix: "simdnet_model_limits_" });
  const errors: string[] = [];
  const saved = console.error;
  console.error = (...args: unknown[]) => errors.push(args.join(" "));
  try {
    const image = `${root}/a.png`;
    await Deno.writeFile(image, png(pattern(8, 8, 3, 1), 8, 8, 3));
    // Valid models that are no image classifier are bad files to the CLI.
    const one = structuredClone(json);
    layersOf(one)[4]!.config.units = 1;
    specsOf(one)[2]!.shape = [256, 1];
    specsOf(one)[3]!.shape = [1];
    const grey = structuredClone(json);
    layersOf(grey)[0]!.config.batch_input_shape = [null, 32, 32, 1];
    specsOf(grey)[0]!.shape = [3, 3, 1, 4];
    const cases: [string, unknown, Uint8Array][] = [
      ...malformed(json).map((
        [w, j],
      ): [string, unknown, Uint8Array] => [w, j, weights]),
      // The weights cut to what each model needs: (112 + 257) and (40 + 2570) floats.
      ["one class", one, weights.slice(0, 4 * 369)],
      ["grey input", grey, weights.slice(0, 4 * 2610)],
    ];
    for (const [what, j, bytes] of cases) {
      const dir = `${root}/${what.replaceAll(" ", "_")}`;
      await writeModel(dir, j, bytes);
      await Deno.mkdir(`${dir}/sub`);
      if (typeof j === "string") {
        await Deno.writeTextFile(`${dir}/model.json`, j);
      }
      errors.length = 0;
      const code = await classifyMain(
        ["--model", dir, "--backend", "cpu", image],
        () => {},
      );
      assert.equal(code, 2, what);
      assert.equal(errors.length, 1, `${what}: ${errors.join(" | ")}`);
      assert.match(
        errors[0]!,
        new RegExp(`^error: (weight file )?${dir}/`),
        what,
      );
      assert.ok(
        !/\n|\bat .+:\d+:\d+/.test(errors[0]!),
        `${what}: ${errors[0]}`,
      );
    }
  } finally {
    console.error = saved;
    await Deno.remove(root, { recursive: true });
  }
});
