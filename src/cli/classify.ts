/**
 * `deno task classify --model DIR img1.png img2.jpg ...`: prints the top
 * classes of each image as a table (or JSON with `--json`).
 *
 * Exit codes: 0 ok; 2 a bad model, or an image that is missing or cannot
 * be decoded (the others are still classified); 3 network; 4 permission;
 * 64 usage; 69 the requested backend cannot start.
 *
 * @module
 */

import type { Lang } from "../data/classes.ts";
import type { BackendChoice } from "../runtime/types.ts";
import { Classifier, type Prediction } from "../serve/classifier.ts";
import { ImageDecodeError } from "../image/image_decode.ts";
import {
  parseFlags,
  RUNTIME_OPTIONS,
  runtimeFlags,
  wholeFlag,
} from "./flags.ts";
import { reportFailure, runCli } from "./run_cli.ts";
import { TTA_OPTIONS, TTA_USAGE, ttaFlags } from "./tta_flags.ts";
import type { TtaOptions } from "../train/tta.ts";
import { UsageError } from "./usage.ts";

const USAGE = `usage: deno task classify --model DIR [options] IMAGE...

Classifies PNG and JPEG images with a saved model and prints the top
classes of each, named as saved with the model.

options:
  --model DIR        model directory (model.json + weights), a model.json
                     path, or its URL (required)
  --top N            classes per image (default 3)
  --json             print JSON instead of a table
  --lang en|ja       language of the table; CIFAR-10 models also get
                     Japanese class names (default en)
  --backend B        auto, wasm, webgpu or cpu (default auto)
  --threads N        WASM threads (default: all cores, or env SIMDNET_THREADS)
  --batch-size N     images per forward pass (default 256)
${TTA_USAGE}
  --help             show this text
`;

/** Parsed command line. */
export interface ClassifyArgs {
  model: string;
  images: string[];
  top: number;
  json: boolean;
  lang: Lang;
  backend: BackendChoice;
  threads: number | undefined;
  batchSize: number;
  /** `--tta`, `--tta-translate`: test-time augmentation, or undefined for none. */
  tta: Required<TtaOptions> | undefined;
}

/** Parses the command line; returns "help" for --help. */
export function parseClassifyArgs(args: string[]): ClassifyArgs | "help" {
  const parsed = parseFlags(args, {
    model: { type: "string" },
    top: { type: "string" },
    json: { type: "boolean", default: false },
    ...RUNTIME_OPTIONS,
    "batch-size": { type: "string" },
    ...TTA_OPTIONS,
    help: { type: "boolean", default: false },
  }, true);
  const v = parsed.values;
  if (v.help) return "help";
  if (v.model === undefined) {
    throw new UsageError(
      "--model DIR is required: the directory of a saved model",
    );
  }
  if (parsed.positionals.length === 0) {
    throw new UsageError("name at least one image file to classify");
  }
  const runtime = runtimeFlags(v);
  return {
    model: v.model,
    images: parsed.positionals,
    top: wholeFlag(v.top, "top", 1) ?? 3,
    json: v.json,
    lang: runtime.lang,
    backend: runtime.backend,
    threads: runtime.threads,
    batchSize: wholeFlag(v["batch-size"], "batch-size", 1) ?? 256,
    tta: ttaFlags(v),
  };
}

/** What happened to one image. */
export interface ImageResult {
  file: string;
  predictions?: Prediction[];
  error?: string;
}

// Terminal columns of a string: CJK and full-width characters take two.
function columns(s: string): number {
  let n = 0;
  for (const ch of s) {
    n +=
      /[\u1100-\u115f\u2e80-\ua4cf\uac00-\ud7a3\uf900-\ufaff\ufe30-\ufe4f\uff00-\uff60\uffe0-\uffe6]/
          .test(ch)
        ? 2
        : 1;
  }
  return n;
}

function pad(s: string, width: number): string {
  return s + " ".repeat(Math.max(0, width - columns(s)));
}

/** The results as an aligned table, one row per image. */
export function formatTable(
  results: readonly ImageResult[],
  top: number,
  lang: Lang,
): string {
  const head = lang === "ja"
    ? ["画像", ...Array.from({ length: top }, (_, i) => `${i + 1}位`)]
    : ["image", ...Array.from({ length: top }, (_, i) => `top ${i + 1}`)];
  const rows = results.map((r) => [
    r.file,
    ...(r.predictions
      ? r.predictions.map((p) =>
        `${lang === "ja" ? p.labelJa ?? p.label : p.label} ${
          (100 * p.probability).toFixed(1)
        }%`
      )
      : [`${lang === "ja" ? "エラー" : "error"}: ${r.error}`]),
  ]);
  // An error message fills the rest of its row and sets no column width.
  const widths = head.map((h, i) =>
    Math.max(
      columns(h),
      ...rows.filter((r) => i === 0 || r.length === head.length).map((r) =>
        columns(r[i] ?? "")
      ),
    )
  );
  return [head, ...rows].map((r) =>
    r.map((cell, i) => i === r.length - 1 ? cell : pad(cell, widths[i]!))
      .join("  ").trimEnd()
  ).join("\n");
}

// Why one file failed, in one line. Any error reading or decoding one
// file is that file's: fast-png, for one, throws a plain Error for a
// palette index out of range, and that must not cost the other files.
// Permission errors stay fatal: they concern the run, not the file.
function fileError(error: unknown): string {
  if (
    error instanceof Deno.errors.NotCapable ||
    error instanceof Deno.errors.PermissionDenied
  ) {
    throw error;
  }
  if (error instanceof Deno.errors.NotFound) return "no such file";
  const message = error instanceof Error ? error.message : String(error);
  const line = message.split("\n")[0]!;
  return error instanceof ImageDecodeError ||
      error instanceof Deno.errors.IsADirectory
    ? line
    : `the image cannot be decoded: ${line}`;
}

async function run(
  a: ClassifyArgs,
  print: (line: string) => void,
): Promise<number> {
  const classifier = await Classifier.load(a.model, {
    backend: a.backend,
    threads: a.threads,
    batchSize: a.batchSize,
    tta: a.tta,
  });
  const [h, w, c] = classifier.inputShape;
  const size = h * w * c;
  const x = new Float32Array(a.images.length * size);
  const results: ImageResult[] = [];
  const good: number[] = [];
  for (const file of a.images) {
    const result: ImageResult = { file };
    try {
      classifier.preprocess(await Deno.readFile(file), x, good.length * size);
      good.push(results.length);
    } catch (error) {
      result.error = fileError(error);
    }
    results.push(result);
  }
  if (good.length > 0) {
    const probs = await classifier.predictPixels(x, good.length);
    good.forEach((r, row) => {
      results[r]!.predictions = classifier.top(probs, row, a.top);
    });
  }
  classifier.dispose();
  if (a.json) {
    print(JSON.stringify(results, null, 2));
  } else {
    print(formatTable(results, Math.min(a.top, classifier.classes), a.lang));
  }
  const failed = results.filter((r) => r.error !== undefined);
  for (const r of failed) console.error(`error: ${r.file}: ${r.error}`);
  return failed.length > 0 ? 2 : 0;
}

/** Runs the CLI with `args`, printing results with `print`; returns the exit code. */
export async function main(
  args: string[],
  print: (line: string) => void = console.log,
): Promise<number> {
  return await runCli(args, {
    usage: USAGE,
    parse: parseClassifyArgs,
    run: (parsed) => run(parsed, print),
    failure: (error) => reportFailure(error, "classify"),
    print,
  });
}

if (import.meta.main) {
  // Deno.exit carries main()'s exit code to the shell.
  Deno.exit(await main(Deno.args));
}
