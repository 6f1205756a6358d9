/**
 * Standard base64 (RFC 4648, with padding) of bytes and back, for `data:`
 * URIs in the report and binaries embedded in modules. JSR's
 * `@std/encoding` is unreachable here, and `btoa` / `atob` work on binary
 * strings, not bytes.
 *
 * @module
 */

// String.fromCharCode takes its arguments on the stack: convert in chunks
// well under engines' argument limits.
const CHUNK = 0x8000;

/**
 * Base64 of `bytes`.
 *
 * @example
 * ```ts
 * import { encodeBase64 } from "./base64.ts";
 * console.log(encodeBase64(new Uint8Array([104, 105]))); // "aGk="
 * ```
 */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  }
  return btoa(binary);
}

/** The bytes of base64 `text`; the inverse of {@linkcode encodeBase64}. */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
