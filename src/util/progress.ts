/**
 * A small progress bar on stderr that stays quiet when stderr is not a
 * terminal, so logs and CI output do not fill with carriage returns.
 *
 * @module
 */

/** Where the bar is drawn; `Deno.stderr` by default. */
export interface ProgressSink {
  /** Writes all of `bytes`, returning how many were written. */
  writeSync(bytes: Uint8Array): number;
  /** Whether this is a terminal (only then is the bar drawn by default). */
  isTerminal(): boolean;
}

/** Options for {@linkcode createProgress}. */
export interface ProgressOptions {
  /** Text before the bar, e.g. "download" or "load". */
  label: string;
  /** The amount at 100%; unknown totals show only the count and the rate. */
  total?: number;
  /** `bytes` shows MB and MB/s; `items` shows plain counts. Default `items`. */
  unit?: "bytes" | "items";
  /** Force the bar on or off; default: on only when the sink is a terminal. */
  enabled?: boolean;
  /** Where to draw; default `Deno.stderr`. */
  sink?: ProgressSink;
  /** Bar width in characters. Default 30. */
  width?: number;
}

/** A progress bar; every method is a cheap no-op when the bar is disabled. */
export interface Progress {
  /** Whether anything is drawn. */
  readonly enabled: boolean;
  /** Sets the amount done so far. */
  update(done: number): void;
  /** Adds to the amount done. */
  add(delta: number): void;
  /** Draws the final state and ends the line. Safe to call twice. */
  finish(): void;
}

// About 10 redraws a second: smooth enough, and cheap for tight loops.
const REDRAW_MS = 100;
const encoder = new TextEncoder();

function formatAmount(value: number, unit: "bytes" | "items"): string {
  if (unit === "items") return String(Math.round(value));
  if (value < 1024 * 1024) return `${(value / 1024).toFixed(1)} kB`;
  return `${(value / (1024 * 1024)).toFixed(1)} MB`;
}

/** Renders one line of the bar; exported for tests. */
export function renderProgress(
  label: string,
  done: number,
  total: number | undefined,
  unit: "bytes" | "items",
  elapsedMs: number,
  width = 30,
): string {
  const rate = elapsedMs > 0 ? done / (elapsedMs / 1000) : 0;
  const rateText = `${formatAmount(rate, unit)}/s`;
  if (total === undefined || total <= 0) {
    return `${label} ${formatAmount(done, unit)} ${rateText}`;
  }
  const fraction = Math.min(1, Math.max(0, done / total));
  const filled = Math.round(fraction * width);
  const bar = "#".repeat(filled) + "-".repeat(width - filled);
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  return `${label} [${bar}] ${percent} ${formatAmount(done, unit)}/${
    formatAmount(total, unit)
  } ${rateText}`;
}

function defaultSink(): ProgressSink {
  return Deno.stderr;
}

/**
 * Creates a progress bar.
 *
 * @example
 * ```ts
 * const bar = createProgress({ label: "load", total: 5, unit: "items" });
 * for (let i = 0; i < 5; i++) bar.add(1);
 * bar.finish();
 * ```
 */
export function createProgress(options: ProgressOptions): Progress {
  const sink = options.sink ?? defaultSink();
  let enabled: boolean;
  try {
    enabled = options.enabled ?? sink.isTerminal();
  } catch {
    // Some sandboxes refuse the terminal query; no bar is the safe answer.
    enabled = false;
  }
  const unit = options.unit ?? "items";
  const started = Date.now();
  let done = 0;
  let lastDraw = 0;
  let finished = false;

  const draw = (): void => {
    const line = renderProgress(
      options.label,
      done,
      options.total,
      unit,
      Date.now() - started,
      options.width,
    );
    sink.writeSync(encoder.encode(`\r${line}\x1b[K`));
  };
  const maybeDraw = (): void => {
    if (!enabled || finished) return;
    const now = Date.now();
    if (now - lastDraw >= REDRAW_MS) {
      lastDraw = now;
      draw();
    }
  };

  return {
    enabled,
    update(value: number): void {
      done = value;
      maybeDraw();
    },
    add(delta: number): void {
      done += delta;
      maybeDraw();
    },
    finish(): void {
      if (!enabled || finished) return;
      finished = true;
      draw();
      sink.writeSync(encoder.encode("\n"));
    },
  };
}
