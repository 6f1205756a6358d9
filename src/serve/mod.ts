/**
 * Classification: {@linkcode Classifier} (PNG/JPEG bytes of any size, raw
 * pixels or a tensor in, top-k classes out; with model bytes it needs no
 * permission) and {@linkcode serveClassifier}, an HTTP service that batches
 * concurrent requests, decodes in workers and stays up under hostile input.
 *
 * ```ts
 * import { encodePng } from "@simdnet/simdnet/image";
 * import { cifarCnn, modelToArtifacts } from "@simdnet/simdnet/nn";
 * import { Classifier, serveClassifier } from "@simdnet/simdnet/serve";
 *
 * const { json, weights } = await modelToArtifacts(cifarCnn({ seed: 1 }));
 * const classifier = await Classifier.fromBytes(json, weights, { backend: "cpu" });
 * const png = encodePng({ data: new Uint8Array(40 * 30 * 3).fill(90), width: 40, height: 30, channels: 3 });
 * console.log((await classifier.classify(png, { topK: 2 })).length); // 2
 *
 * const service = serveClassifier(classifier, { port: 0, decodeWorkers: 0 });
 * const response = await fetch(`http://127.0.0.1:${service.addr.port}/classify?topK=3`, {
 *   method: "POST",
 *   headers: { "content-type": "image/png" },
 *   body: png.slice(), // a Uint8Array<ArrayBuffer>
 * });
 * const { predictions } = await response.json();
 * console.log(response.status, predictions.length); // 200 3
 * await service.server.shutdown();
 * classifier.dispose();
 * ```
 *
 * @module
 */

export {
  Classifier,
  type ClassifierInput,
  type ClassifierOptions,
  type ClassifyOptions,
  type Prediction,
} from "./classifier.ts";
export {
  ACCEPTED_TYPES,
  type ClassifierEngine,
  type ClassifyService,
  type ClassifyServiceOptions,
  createClassifyHandler,
  type RunningService,
  serveClassifier,
  type ServeOptions,
  type ServiceServer,
} from "./server.ts";
export { defaultDecodeWorkers } from "./handler.ts";
export { ConnectionFront, type FrontOptions } from "./front.ts";
export {
  BadImageError,
  DecodePool,
  type DecodePoolOptions,
  DecodeTimeoutError,
} from "./decode_pool.ts";
export {
  type Histogram,
  LATENCY_BUCKETS,
  type MetricsSnapshot,
  ServerMetrics,
} from "./server_metrics.ts";
export { PROMETHEUS_CONTENT_TYPE, prometheusText } from "./prometheus.ts";
export {
  BatchQueue,
  type BatchQueueOptions,
  QueueFullError,
} from "./work_queue.ts";
export { ByteBudget } from "./request_limits.ts";
