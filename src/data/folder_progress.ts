/**
 * A progress callback for `loadImageFolder` that draws util's
 * progress bar on stderr (only on a terminal), for the CLIs: decoding a
 * folder of thousands of photos takes long enough to want one.
 *
 * @module
 */

import { createProgress, type Progress } from "../util/progress.ts";

/** A progress callback and the call that ends its line. */
export interface FolderProgress {
  /** Pass as `onProgress`. */
  onProgress: (done: number, total: number) => void;
  /** Ends the bar's line; safe when nothing was drawn. */
  finish: () => void;
}

/** A bar labelled `label`, created at the first call when the total is known. */
export function folderProgress(label: string): FolderProgress {
  let bar: Progress | undefined;
  return {
    onProgress: (done, total) => {
      bar ??= createProgress({ label, total, unit: "items" });
      bar.update(done);
    },
    finish: () => bar?.finish(),
  };
}
