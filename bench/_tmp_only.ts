import { type Measurement, runInterleaved } from "./_harness.ts";
import { ortWorker, simdnetWorker } from "./_workers.ts";
const w = simdnetWorker("wasm", 2);
const o = ortWorker(Deno.args[0] as "web" | "node", 2);
const ms: Measurement[] = [
  { worker: w, task: "train", batch: 64, warmup: 3 },
  { worker: w, task: "infer", batch: 256, warmup: 2 },
  { worker: o, task: "infer", batch: 256, warmup: 2 },
  { worker: o, task: "latency", batch: 1, warmup: 20 },
];
const { rows } = await runInterleaved(ms, {
  rounds: 3,
  targetSeconds: 1.5,
  log: () => {},
});
for (const r of rows) {
  console.log(r.system, r.task, r.threads, r.imagesPerSecond.toFixed(0));
}
