/**
 * One thread of bench/simd_peak.ts's all-threads run: its own instance of
 * the peak module, warmed up before it says `ready` (so compiling and V8's
 * tier-up stay out of the timed part), then one `run(n)` per `go`,
 * answered with the wall-clock start and end of that call.
 *
 * @module
 */

import { instantiatePeak, type PeakLoop } from "./_simd_peak_module.ts";

/** What the main thread sends. */
export type PeakWorkerRequest =
  | { kind: "load"; loop: PeakLoop; warmup: number }
  | { kind: "go"; n: number };

/** What a worker answers: `ready` after a load, a time span after a go. */
export type PeakWorkerReply =
  | { kind: "ready" }
  | { kind: "done"; start: number; end: number };

// performance.now() is per-thread; timeOrigin + now() is comparable across them.
const wallNow = () => performance.timeOrigin + performance.now();

let run: ((n: number, x: number, y: number) => void) | null = null;
const scope = self as unknown as {
  onmessage: ((e: MessageEvent<PeakWorkerRequest>) => void) | null;
  postMessage: (reply: PeakWorkerReply) => void;
};

scope.onmessage = async (e) => {
  const request = e.data;
  if (request.kind === "load") {
    const instance = await instantiatePeak(request.loop);
    run = instance.run;
    for (let i = 0; i < 3; i++) run(request.warmup, 1, 1);
    scope.postMessage({ kind: "ready" });
  } else {
    const start = wallNow();
    run!(request.n, 1, 1);
    scope.postMessage({ kind: "done", start, end: wallNow() });
  }
};
