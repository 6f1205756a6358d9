/**
 * `deno task serve` as a subprocess with the task's permissions (read, net
 * on 127.0.0.1, env SIMDNET_THREADS): it listens on 127.0.0.1, answers,
 * stops cleanly on SIGTERM, and explains a refused address or a taken port.
 */

import assert from "node:assert/strict";
import { parseServeArgs, SERVE_ENV, SERVE_USAGE } from "../src/cli/serve.ts";
import { saveModel } from "../src/nn/model_io.ts";
import { pattern, png, tinyModel } from "./classify_fixtures.ts";

const SERVE = new URL("../src/cli/serve.ts", import.meta.url).pathname;
const PERMISSIONS = [
  "--allow-read",
  "--allow-net=127.0.0.1",
  "--allow-env=SIMDNET_THREADS",
];

/** An environment with no variables set, so these tests ignore the real one. */
const noEnv = () => undefined;

function start(args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...PERMISSIONS, SERVE, ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
}

/** Reads stdout until a line matches; returns the match and the rest of the stream. */
async function waitFor(
  stream: ReadableStream<Uint8Array<ArrayBuffer>>,
  pattern: RegExp,
): Promise<{ match: RegExpExecArray; seen: string }> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`stdout ended before ${pattern}: ${seen}`);
    seen += value;
    const match = pattern.exec(seen);
    if (match) {
      // Keep draining in the background so the child never blocks on a full pipe.
      (async () => {
        while (!(await reader.read()).done) { /* drain */ }
      })();
      return { match, seen };
    }
  }
}

async function withModel(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "simdnet_serve_cli_" });
  const model = tinyModel(61);
  try {
    await saveModel(model, dir);
    await run(dir);
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("serve cli: listens on 127.0.0.1 with the task's permissions and stops on SIGTERM", async () => {
  await withModel(async (dir) => {
    const child = start([
      "--model",
      dir,
      "--port",
      "0",
      "--backend",
      "wasm",
      "--threads",
      "1",
    ]);
    const stderr = child.stderr.pipeThrough(new TextDecoderStream());
    const errText = (async () => {
      let s = "";
      for await (const chunk of stderr) s += chunk;
      return s;
    })();
    try {
      const { match, seen } = await waitFor(
        child.stdout,
        /listening on http:\/\/127\.0\.0\.1:(\d+)\//,
      );
      assert.match(seen, /backend: wasm/);
      const url = `http://127.0.0.1:${match[1]}`;
      const health = await (await fetch(`${url}/healthz`)).json();
      assert.equal(health.status, "ok");
      assert.equal(health.backend, "wasm");
      const res = await fetch(`${url}/classify`, {
        method: "POST",
        headers: { "content-type": "image/png" },
        body: png(pattern(24, 24, 3, 1), 24, 24, 3),
      });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).predictions.length, 3);
    } finally {
      child.kill("SIGTERM");
    }
    const status = await child.status;
    assert.equal(status.code, 0, await errText);
  });
});

Deno.test("serve cli: an address outside --allow-net exits 4, a taken port 69", async () => {
  await withModel(async (dir) => {
    const refused = await start([
      "--model",
      dir,
      "--host",
      "0.0.0.0",
      "--port",
      "0",
      "--backend",
      "cpu",
    ]).output();
    assert.equal(refused.code, 4);
    assert.match(new TextDecoder().decode(refused.stderr), /0\.0\.0\.0/);

    const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const port = String((taken.addr as Deno.NetAddr).port);
      const busy = await start([
        "--model",
        dir,
        "--port",
        port,
        "--backend",
        "cpu",
      ]).output();
      assert.equal(busy.code, 69);
      assert.match(new TextDecoder().decode(busy.stderr), /another --port/);
    } finally {
      taken.close();
    }
  });
});

Deno.test("serve cli: every limit has a flag and a documented default", () => {
  const defaults = parseServeArgs(["--model", "m"], noEnv);
  assert.notEqual(defaults, "help");
  if (defaults === "help") return;
  assert.deepEqual({
    maxBody: defaults.maxBody,
    maxFiles: defaults.maxFiles,
    maxConnections: defaults.maxConnections,
    maxInFlight: defaults.maxInFlight,
    maxBuffered: defaults.maxBuffered,
    headerTimeout: defaults.headerTimeout,
    bodyTimeout: defaults.bodyTimeout,
    decodeWorkers: defaults.decodeWorkers,
    decodeBudget: defaults.decodeBudget,
  }, {
    maxBody: 5 * 1024 * 1024,
    maxFiles: 16,
    maxConnections: 256,
    maxInFlight: 64,
    maxBuffered: 64 * 1024 * 1024,
    headerTimeout: 10_000,
    bodyTimeout: 30_000,
    decodeWorkers: undefined, // cores, at most 4
    decodeBudget: 10_000,
  });
  const set = parseServeArgs([
    "--model=m",
    "--max-files=2",
    "--max-connections=3",
    "--max-in-flight=4",
    "--max-buffered=5000",
    "--header-timeout=600",
    "--body-timeout=700",
    "--decode-workers=0",
    "--decode-budget=800",
  ], noEnv);
  assert.notEqual(set, "help");
  if (set === "help") return;
  assert.deepEqual(
    [
      set.maxFiles,
      set.maxConnections,
      set.maxInFlight,
      set.maxBuffered,
      set.headerTimeout,
      set.bodyTimeout,
      set.decodeWorkers,
      set.decodeBudget,
    ],
    [2, 3, 4, 5000, 600, 700, 0, 800],
  );
  assert.throws(
    () => parseServeArgs(["--model=m", "--header-timeout=0"], noEnv),
    /--header-timeout must be a whole number >= 1/,
  );
});

Deno.test("serve cli: every flag also reads its SIMDNET_ variable, and a flag wins over it", () => {
  const vars: Record<string, string> = {
    SIMDNET_MODEL: "from-env",
    SIMDNET_PORT: "9000",
    SIMDNET_HOST: "0.0.0.0",
    SIMDNET_MAX_IN_FLIGHT: "7",
    SIMDNET_DRAIN_TIMEOUT: "5000",
    SIMDNET_BACKEND: "cpu",
    SIMDNET_LANG: "ja",
    SIMDNET_THREADS: "2",
  };
  const env = (name: string) => vars[name];
  const pick = (a: ReturnType<typeof parseServeArgs>) => {
    assert.notEqual(a, "help");
    if (a === "help") throw new Error("help");
    const { model, port, host, maxInFlight, drainTimeout, backend, lang } = a;
    return {
      model,
      port,
      host,
      maxInFlight,
      drainTimeout,
      backend,
      lang,
      threads: a.threads,
    };
  };
  assert.deepEqual(pick(parseServeArgs([], env)), {
    model: "from-env",
    port: 9000,
    host: "0.0.0.0",
    maxInFlight: 7,
    drainTimeout: 5000,
    backend: "cpu",
    lang: "ja",
    threads: 2,
  });
  const flags = ["--model=m", "--port=8081", "--host=127.0.0.1"];
  assert.deepEqual(
    pick(parseServeArgs([...flags, "--backend=wasm", "--lang=en"], env)),
    {
      model: "m",
      port: 8081,
      host: "127.0.0.1",
      maxInFlight: 7, // no flag: still the variable's
      drainTimeout: 5000,
      backend: "wasm",
      lang: "en",
      threads: 2,
    },
  );
  // A blank variable is unset; defaults apply.
  const blank = pick(parseServeArgs(["--model=m"], () => ""));
  assert.equal(blank.port, 8080);
  assert.equal(blank.host, "127.0.0.1");
  assert.equal(blank.drainTimeout, 30_000);
  // A bad value is reported by the variable it came from.
  assert.throws(
    () =>
      parseServeArgs(
        ["--model=m"],
        (n) => n === "SIMDNET_PORT" ? "x" : undefined,
      ),
    /^UsageError: SIMDNET_PORT \(read for --port\) must be a whole number >= 0, got x$/,
  );
  assert.throws(
    () => parseServeArgs(["--port=x"], env),
    /^UsageError: --port must be a whole number >= 0, got x$/,
  );
  assert.throws(
    () => parseServeArgs([], noEnv),
    /--model DIR \(or SIMDNET_MODEL\) is required/,
  );
});

Deno.test("serve cli: one variable per flag, listed in --help and in the serve task's --allow-env", async () => {
  const options = SERVE_USAGE.slice(
    SERVE_USAGE.indexOf("options:"),
    SERVE_USAGE.indexOf("Every option"),
  );
  const flags = [...options.matchAll(/^ {2}--([a-z-]+) /gm)]
    .map((m) => m[1]!)
    .filter((f) => f !== "help");
  assert.deepEqual(Object.keys(SERVE_ENV).sort(), [...new Set(flags)].sort());
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../deno.json", import.meta.url)),
  );
  const task: string = config.tasks.serve;
  const allowed = /--allow-env=(\S+)/.exec(task)![1]!.split(",");
  for (const [flag, name] of Object.entries(SERVE_ENV)) {
    assert.equal(name, `SIMDNET_${flag.toUpperCase().replaceAll("-", "_")}`);
    assert.ok(allowed.includes(name), `${name} is not in the serve task`);
    assert.match(SERVE_USAGE, new RegExp(`--${flag} +${name}$`, "m"));
  }
  // The task's other permissions stay as they were.
  assert.match(
    task,
    /^deno run --allow-read=\. --allow-net=127\.0\.0\.1 --allow-env=/,
  );
});
