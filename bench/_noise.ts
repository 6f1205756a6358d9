/**
 * Pixel noise for the benchmarks and profiles: the kernels' speed does not
 * depend on the values, so any fixed bytes will do, drawn from simdnet's one
 * seeded generator so that a run's inputs are the same every time.
 *
 * @module
 */
import type { Rng } from "../src/util/random.ts";

/** `n` bytes from `rng`, the top eight bits of each draw. */
export function noiseBytes(n: number, rng: Rng): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.nextUint32() >>> 24;
  return out;
}
