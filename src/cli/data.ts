/**
 * `deno task data`: loads CIFAR-10 or an image folder and prints where it
 * came from and how many images each class has; for an image folder also
 * the image sizes and colour types seen and the files skipped. A quick
 * check that the data is there and sound.
 *
 * Exit codes: 0 ok, 2 bad or missing data, 3 network, 4 permission, 64 usage.
 *
 * @module
 */

import { loadCifar10, type LoadCifar10Options } from "../data/cifar10.ts";
import { countPerClass } from "../data/dataset.ts";
import { folderProgress } from "../data/folder_progress.ts";
import { loadImageFolder } from "../data/image_folder.ts";
import { detectDataKind } from "../data/image_folder_scan.ts";
import {
  type FolderStats,
  formatSkipped,
  mostCommon,
} from "../data/image_folder_stats.ts";
import type { ImageSet } from "../data/image_set.ts";
import { EXIT_OK } from "./exit_codes.ts";
import { langFlag, parseFlags, wholeFlag } from "./flags.ts";
import { reportFailure, runCli } from "./run_cli.ts";
import { UsageError } from "./usage.ts";

const USAGE = `usage: deno task data [options]

Loads CIFAR-10 or an image folder and prints the number of images per
class (for a folder also the image sizes, colour types and skipped files).

options:
  --data DIR       a cifar-10-batches-bin directory, or an image folder
                   DIR/<class name>/*.png|jpg|jpeg (default: env CIFAR10_DIR, then the cache)
  --image-size N   image folder: decode to N x N pixels (default 32)
  --cache-images   image folder: read/write the decoded images in the cache
  --archive PATH   cifar-10-binary.tar.gz to extract into the cache if needed
  --cache DIR      cache directory (default: $XDG_CACHE_HOME/simdnet or ~/.cache/simdnet)
  --url URL        where to download the archive from (default: the official address)
  --md5 HEX|none   expected md5 of the archive (default: the official one)
  --lang en|ja     language of the class names (default: en)
  --limit N        load at most N images per set
  --no-download    fail instead of downloading
  --help           show this text
`;

// Japanese names take two terminal columns per character; pad by columns.
function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += ch.codePointAt(0)! >= 0x1100 ? 2 : 1;
  return width;
}

/** Formats the per-class counts of one set. */
export function describeSet(
  name: string,
  set: ImageSet | null,
  classNames: string[],
): string {
  if (set === null) return `${name}: none\n`;
  const counts = countPerClass(
    set.labels.subarray(0, set.count),
    classNames.length,
  );
  const width = Math.max(...classNames.map(displayWidth));
  const lines = counts.map((count, label) => {
    const name = classNames[label] ?? "";
    const pad = " ".repeat(width - displayWidth(name));
    return `  ${label} ${name}${pad} ${String(count).padStart(6)}`;
  });
  return `${name}: ${set.count} images\n${lines.join("\n")}\n`;
}

/** Parsed command line: CIFAR-10 options plus the image-folder ones. */
interface DataArgs {
  cifar: LoadCifar10Options;
  imageSize: number;
  cacheImages: boolean;
}

/** The most common sizes, the extremes and the colour types, as lines. */
export function describeStats(stats: FolderStats, count: number): string {
  const sizes = Object.keys(stats.sizes).length;
  const top = mostCommon(stats.sizes, 5).map(([size, n]) =>
    `  ${size.padEnd(11)} ${String(n).padStart(6)}`
  );
  const more = sizes > top.length
    ? [`  (${sizes - top.length} more sizes)`]
    : [];
  const dims = (d: FolderStats["smallest"]) =>
    d ? `${d.width}x${d.height}` : "-";
  const colours = mostCommon(stats.colours, 100).map(([colour, n]) =>
    `  ${colour.padEnd(16)} ${String(n).padStart(6)}`
  );
  return [
    `image sizes (${sizes} distinct, ${count} images; smallest ${
      dims(stats.smallest)
    }, largest ${dims(stats.largest)}):`,
    ...top,
    ...more,
    "colour types:",
    ...colours,
  ].join("\n") + "\n";
}

async function runFolder(a: DataArgs, dir: string): Promise<void> {
  const progress = folderProgress("decode");
  const data = await loadImageFolder({
    dir,
    imageSize: a.imageSize,
    cache: a.cacheImages,
    ...(a.cifar.cacheDir === undefined ? {} : { cacheDir: a.cifar.cacheDir }),
    onProgress: progress.onProgress,
  });
  progress.finish();
  const cached = data.source.cached ? " (decoded images from the cache)" : "";
  console.log(`source: folder ${data.source.path}${cached}`);
  console.log(`classes: ${data.classNames.length}`);
  console.log(describeSet("dataset", data.train, data.classNames));
  console.log(describeStats(data.stats, data.train.count));
  const skipped = formatSkipped(data.skipped);
  console.log(skipped === "" ? "skipped: none" : skipped);
}

function parse(args: string[]): DataArgs | "help" {
  const parsed = parseFlags(args, {
    data: { type: "string" },
    archive: { type: "string" },
    cache: { type: "string" },
    url: { type: "string" },
    md5: { type: "string" },
    lang: { type: "string", default: "en" },
    limit: { type: "string" },
    "image-size": { type: "string" },
    "cache-images": { type: "boolean", default: false },
    "no-download": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  });
  const v = parsed.values;
  if (v.help) return "help";
  const options: LoadCifar10Options = {
    lang: langFlag(v.lang),
    download: !v["no-download"],
  };
  if (v.data !== undefined) options.dir = v.data;
  if (v.archive !== undefined) options.archive = v.archive;
  if (v.cache !== undefined) options.cacheDir = v.cache;
  if (v.url !== undefined) options.url = v.url;
  if (v.md5 !== undefined) {
    if (v.md5 !== "none" && !/^[0-9a-fA-F]{32}$/.test(v.md5)) {
      throw new UsageError(`--md5 must be 32 hex digits or none, got ${v.md5}`);
    }
    options.md5 = v.md5 === "none" ? null : v.md5;
  }
  const limit = wholeFlag(v.limit, "limit", 1);
  if (limit !== undefined) options.limit = limit;
  return {
    cifar: options,
    imageSize: wholeFlag(v["image-size"], "image-size", 1) ?? 32,
    cacheImages: v["cache-images"],
  };
}

/** Runs the CLI with `args` and returns the exit code. */
export async function main(args: string[]): Promise<number> {
  return await runCli(args, {
    usage: USAGE,
    parse,
    run: async (a) => {
      const dir = a.cifar.dir;
      if (
        dir !== undefined && await detectDataKind(dir, "--data") === "folder"
      ) {
        await runFolder(a, dir);
        return EXIT_OK;
      }
      const data = await loadCifar10(a.cifar);
      console.log(`source: ${data.source.kind} ${data.source.path}`);
      console.log(describeSet("train", data.train, data.classNames));
      console.log(describeSet("test", data.test, data.classNames));
      return EXIT_OK;
    },
    failure: (error) => reportFailure(error, "data"),
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
