/**
 * The decode worker of {@linkcode DecodePool}: turns PNG/JPEG bytes into
 * the model input off the main thread. It calls the same function as
 * `Classifier.preprocess` (`decodeImageToInput`, which streams PNG rows into
 * the model input so memory does not grow with the image); a test checks
 * both give identical values.
 *
 * @module
 */

import { decodeImageToInput } from "../image/image_decode.ts";

/** A job sent to the worker. */
export interface DecodeJob {
  /** Matches the reply to the job. */
  id: number;
  /** PNG or JPEG file bytes. */
  bytes: Uint8Array;
  /** Model input height. */
  height: number;
  /** Model input width. */
  width: number;
  /** Largest decoded image in pixels. */
  maxPixels: number;
}

/** The worker's answer: the input, or why the bytes are no usable image. */
export type DecodeReply =
  | { id: number; ok: true; input: Float32Array }
  | { id: number; ok: false; message: string };

/** Runs one job; exported for the in-thread path and the tests. */
export function runDecodeJob(job: DecodeJob): DecodeReply {
  try {
    const input = decodeImageToInput(job.bytes, job.height, job.width, {
      maxPixels: job.maxPixels,
    });
    return { id: job.id, ok: true, input };
  } catch (error) {
    // Anything the decoders throw comes from the bytes they were given.
    const message = error instanceof Error ? error.message : String(error);
    return { id: job.id, ok: false, message };
  }
}

// Only when loaded as a worker: the module is also imported by the tests.
const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<DecodeJob>) => void) | null;
  postMessage?: (message: unknown, transfer: Transferable[]) => void;
  WorkerGlobalScope?: unknown;
};
if (scope.WorkerGlobalScope !== undefined && scope.postMessage) {
  const post = scope.postMessage.bind(globalThis);
  scope.onmessage = (event) => {
    const reply = runDecodeJob(event.data);
    // Transfer the result: a 32x32x3 input is small, but larger models are not.
    post(reply, reply.ok ? [reply.input.buffer as ArrayBuffer] : []);
  };
  // Loaded: the pool starts a job's clock only from here, since loading
  // (and type-checking under `deno test`) took seconds on a busy machine.
  post({ ready: true }, []);
}
