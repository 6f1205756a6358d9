/**
 * The images of a `POST /classify` request: raw bytes, or the files of a
 * multipart form, counted and capped before any of them is decoded.
 *
 * @module
 */

import { type BodyLimits, HttpError, readBody } from "./request_limits.ts";

/** Content types `POST /classify` accepts. */
export const ACCEPTED_TYPES: readonly string[] = [
  "image/png",
  "image/jpeg",
  "application/octet-stream",
  "multipart/form-data",
];

/** One uploaded image. */
export interface Upload {
  /** The form's file name; `null` for a raw body. */
  name: string | null;
  /** The file's bytes. */
  bytes: Uint8Array;
}

/** The images of a request and the budget bytes its body holds. */
export interface Uploads {
  /** The images, in form order. */
  files: Upload[];
  /** Bytes taken from the budget; give them back when the request ends. */
  held: number;
}

function contentType(request: Request): string {
  return (request.headers.get("content-type") ?? "").split(";")[0]!.trim()
    .toLowerCase();
}

async function formFiles(
  request: Request,
  body: Uint8Array<ArrayBuffer>,
  maxFiles: number,
): Promise<Upload[]> {
  let form: FormData;
  try {
    form = await new Response(body, { headers: request.headers }).formData();
  } catch (error) {
    throw new HttpError(
      400,
      `the multipart form cannot be read: ${(error as Error).message}`,
    );
  }
  const blobs: File[] = [];
  for (const [, value] of form) {
    if (typeof value !== "string") blobs.push(value);
  }
  if (blobs.length === 0) {
    throw new HttpError(400, "the form holds no file: add an image file field");
  }
  // Counted before any file is copied or decoded.
  if (blobs.length > maxFiles) {
    throw new HttpError(
      413,
      `the form holds ${blobs.length} files; the limit is ${maxFiles} per request`,
    );
  }
  return await Promise.all(blobs.map(async (file) => ({
    name: file.name,
    bytes: new Uint8Array(await file.arrayBuffer()),
  })));
}

/**
 * Reads the images of a request: checks the content type (415), reads the
 * body within `limits` and, for a form, caps the files at `maxFiles` (413).
 * On failure nothing stays taken from the budget.
 */
export async function readUploads(
  request: Request,
  limits: BodyLimits,
  maxFiles: number,
): Promise<Uploads> {
  const type = contentType(request);
  const accepted = type === "" || type === "image/jpg" ||
    ACCEPTED_TYPES.includes(type);
  if (!accepted) {
    await request.body?.cancel().catch(() => {});
    throw new HttpError(
      415,
      `content type ${type} is not accepted: send image/png, image/jpeg, ` +
        `application/octet-stream or a multipart/form-data form with a file`,
    );
  }
  const { bytes, held } = await readBody(request, limits);
  try {
    if (type !== "multipart/form-data") {
      if (bytes.length === 0) throw new HttpError(400, "the body is empty");
      return { files: [{ name: null, bytes }], held };
    }
    return { files: await formFiles(request, bytes, maxFiles), held };
  } catch (error) {
    limits.budget.give(held);
    throw error;
  }
}
