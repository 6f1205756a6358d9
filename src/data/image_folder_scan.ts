/**
 * Listing an image-folder dataset (the Keras `image_dataset_from_directory`
 * and torchvision `ImageFolder` layout): `DIR/<class name>/…/*.png|jpg|jpeg`.
 * Class names are the folder names, normalised to NFC (macOS stores NFD)
 * and sorted by code point as Python's `sorted` does, so class indices
 * match Keras'. Names starting with "." are skipped (`.DS_Store`, `.git`,
 * editors' temporaries), and so are files of other extensions, as Keras
 * skips them. Also tells a CIFAR-10 directory from an image folder.
 *
 * @module
 */

import { DataError, fsError } from "./errors.ts";
import { BATCHES_DIR, TEST_FILE, TRAIN_FILES } from "./layout.ts";

/** Extensions read, compared in lower case. */
export const IMAGE_EXTENSIONS: readonly string[] = Object.freeze([
  ".png",
  ".jpg",
  ".jpeg",
]);

/** Most classes: labels are stored as bytes. */
export const MAX_CLASSES = 256;

/** One image file of the listing. */
export interface FolderFile {
  /** Path to read it from. */
  path: string;
  /** Path relative to the dataset directory, `/`-separated. */
  rel: string;
  size: number;
  /** Modification time in ms since the epoch, or 0 when unknown. */
  mtime: number;
}

/** One class folder and its image files, in code-point order of `rel`. */
export interface FolderClass {
  /** The folder name in NFC: the class name. */
  name: string;
  /** Path of the folder. */
  dir: string;
  files: FolderFile[];
}

/** Compares strings by Unicode code point (JS `<` compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const x = [...a], y = [...b];
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

function isImageName(name: string): boolean {
  const lower = name.toLowerCase();
  return IMAGE_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

async function entries(dir: string): Promise<Deno.DirEntry[]> {
  const out: Deno.DirEntry[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (!entry.name.startsWith(".")) out.push(entry);
    }
  } catch (error) {
    throw fsError(error, "read", dir);
  }
  return out.sort((a, b) => compareCodePoints(a.name, b.name));
}

// Symlinks are followed (Keras follows them too); a dangling one is skipped.
async function kindOf(
  path: string,
  entry: Deno.DirEntry,
): Promise<Deno.FileInfo | null> {
  if (!entry.isSymlink && !entry.isFile && !entry.isDirectory) return null;
  try {
    return await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw fsError(error, "read", path);
  }
}

async function listFiles(
  dir: string,
  rel: string,
  out: FolderFile[],
  seen = new Set<string>(),
): Promise<void> {
  // Each real directory once per class: a symlink back up the tree (a
  // loop) would otherwise list the same images again and again.
  let real: string;
  try {
    real = await Deno.realPath(dir);
  } catch (error) {
    throw fsError(error, "read", dir);
  }
  if (seen.has(real)) return;
  seen.add(real);
  for (const entry of await entries(dir)) {
    const path = `${dir}/${entry.name}`, name = `${rel}/${entry.name}`;
    const info = await kindOf(path, entry);
    if (info?.isDirectory) await listFiles(path, name, out, seen);
    else if (info?.isFile && isImageName(entry.name)) {
      out.push({
        path,
        rel: name,
        size: info.size,
        mtime: info.mtime?.getTime() ?? 0,
      });
    }
  }
}

/**
 * Lists the class folders of `dir` and their image files. Throws a
 * {@linkcode DataError} naming the folder when a class has no image file,
 * when there are fewer than two classes or more than 256, or when two
 * folder names are the same after NFC normalisation.
 */
export async function scanImageFolder(dir: string): Promise<FolderClass[]> {
  const classes: FolderClass[] = [];
  for (const entry of await entries(dir)) {
    const path = `${dir}/${entry.name}`;
    if (!(await kindOf(path, entry))?.isDirectory) continue;
    const files: FolderFile[] = [];
    await listFiles(path, entry.name, files);
    classes.push({ name: entry.name.normalize("NFC"), dir: path, files });
  }
  classes.sort((a, b) => compareCodePoints(a.name, b.name));
  const hint = "put each class's images in DIR/<class name>/ (.png, .jpg, " +
    ".jpeg), at least two classes";
  if (classes.length < 2) {
    throw new DataError(
      "format",
      `${dir} has ${classes.length} class folder${
        classes.length === 1 ? ` (${classes[0]!.name})` : "s"
      }; a dataset needs at least two`,
      hint,
      { path: dir },
    );
  }
  if (classes.length > MAX_CLASSES) {
    throw new DataError(
      "format",
      `${dir} has ${classes.length} class folders, more than ${MAX_CLASSES}`,
      "merge or remove classes (labels are stored as bytes)",
      { path: dir },
    );
  }
  for (let i = 1; i < classes.length; i++) {
    if (classes[i]!.name === classes[i - 1]!.name) {
      throw new DataError(
        "format",
        `${classes[i - 1]!.dir} and ${classes[i]!.dir} are the same class ` +
          `name in Unicode NFC`,
        "rename one of the two folders",
        { path: classes[i]!.dir },
      );
    }
  }
  const empty = classes.find((c) => c.files.length === 0);
  if (empty) {
    throw new DataError(
      "format",
      `the class folder ${empty.dir} holds no .png, .jpg or .jpeg file`,
      "add images to it or remove the folder",
      { path: empty.dir },
    );
  }
  return classes;
}

/** What a `--data` directory holds. */
export type DataKind = "cifar10" | "folder";

/**
 * Tells a CIFAR-10 directory (batch files, or a `cifar-10-batches-bin`
 * folder inside) from an image folder (visible subdirectories). A missing
 * path or a file counts as CIFAR-10, whose loader already explains those
 * (e.g. "pass an archive with --archive"). Throws a {@linkcode DataError}
 * naming `dir` when it is a directory holding neither. `origin` says where
 * `dir` came from (e.g. "--data").
 */
export async function detectDataKind(
  dir: string,
  origin: string,
): Promise<DataKind> {
  try {
    if (!(await Deno.stat(dir)).isDirectory) return "cifar10";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "cifar10";
    throw fsError(error, "read", dir);
  }
  let folders = 0;
  for (const entry of await entries(dir)) {
    if ([...TRAIN_FILES, TEST_FILE, BATCHES_DIR].includes(entry.name)) {
      return "cifar10";
    }
    if ((await kindOf(`${dir}/${entry.name}`, entry))?.isDirectory) folders++;
  }
  if (folders > 0) return "folder";
  throw new DataError(
    "format",
    `${dir} (from ${origin}) holds neither CIFAR-10 batch files nor class ` +
      `folders of images`,
    "pass a cifar-10-batches-bin directory, or a folder laid out as " +
      "DIR/<class name>/*.png|jpg",
    { path: dir },
  );
}
