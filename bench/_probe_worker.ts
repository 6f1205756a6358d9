/**
 * Prints the 6x8 micro-kernel loop's GFLOP/s on this process's one thread
 * (bench/_kernel_loop_module.ts). `bench:compare` runs it pinned to each
 * CPU in turn (bench/_cpu_probe.ts) to see a slow CPU that a probe in its
 * own process, which runs wherever the scheduler put it, would miss.
 *
 * @module
 */

import { hasRelaxedSimd } from "./_simd_peak_module.ts";
import { instantiateKernel, kernelLoopGflops } from "./_kernel_loop_module.ts";

const loop = await instantiateKernel({
  relaxed: hasRelaxedSimd(),
  shared: false,
});
console.log(kernelLoopGflops(loop, 40, 3).toFixed(2));
