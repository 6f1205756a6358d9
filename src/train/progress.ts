/**
 * Keras' training progress output. On a terminal, Keras' `verbose=1` bar,
 * redrawn in place:
 *
 *     120/782 [===>..........................] - ETA: 40s - loss: 1.9 - accuracy: 0.3
 *     782/782 [==============================] - 45s 57ms/step - loss: ... - val_accuracy: ...
 *
 * Elsewhere (a file, a pipe), plain lines: one every tenth of the epoch and
 * Keras' `verbose=2` line at the end:
 *
 *     782/782 - 45s - loss: ... - val_accuracy: ... - 45s/epoch - 57ms/step
 *
 * @module
 */

/** Where progress goes. */
export interface ProgressOutput {
  write(text: string): void;
  /** Whether the output is a terminal (redraw in place). */
  isTTY: boolean;
}

/** Standard output, as a {@linkcode ProgressOutput}. */
export function stdoutOutput(): ProgressOutput {
  const encoder = new TextEncoder();
  return {
    write: (text) => {
      const bytes = encoder.encode(text);
      let done = 0;
      while (done < bytes.length) {
        done += Deno.stdout.writeSync(bytes.subarray(done));
      }
    },
    isTTY: Deno.stdout.isTerminal(),
  };
}

/** Python's `'%.4f'` or `'%.4e'`, as Keras chooses between them. */
export function formatValue(v: number): string {
  if (!Number.isFinite(v)) {
    return String(v).toLowerCase().replace("infinity", "inf");
  }
  if (Math.abs(v) > 1e-3) return v.toFixed(4);
  // Python writes at least two exponent digits.
  return v.toExponential(4).replace(/e([+-])(\d)$/, "e$10$2");
}

/** Keras' `_format_time`. */
export function formatStepTime(seconds: number, unit: string): string {
  if (seconds >= 1 || seconds === 0) return ` ${seconds.toFixed(0)}s/${unit}`;
  if (seconds >= 1e-3) return ` ${(seconds * 1e3).toFixed(0)}ms/${unit}`;
  return ` ${(seconds * 1e6).toFixed(0)}us/${unit}`;
}

/** Keras' ETA: `h:mm:ss`, `m:ss` or `Ns`, truncated to whole seconds. */
export function formatEta(seconds: number): string {
  const s = Math.floor(seconds);
  if (seconds > 3600) {
    const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
    return `${Math.floor(s / 3600)}:${mm}:${String(s % 60).padStart(2, "0")}`;
  }
  if (seconds > 60) {
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }
  return `${s}s`;
}

/** Keras' bar: `current/target [====>.....]`, 30 characters wide. */
export function formatBar(current: number, target: number): string {
  const digits = String(target).length;
  let bar = `${String(current).padStart(digits)}/${target} [`;
  const width = Math.floor((30 * current) / target);
  if (width > 0) bar += "=".repeat(width - 1) + (current < target ? ">" : "=");
  return bar + ".".repeat(30 - width) + "]";
}

function formatLogs(values: ReadonlyArray<[string, number]>): string {
  return values.map(([k, v]) => ` - ${k}: ${formatValue(v)}`).join("");
}

/** Options of {@linkcode Progbar}. */
export interface ProgbarOptions {
  /** 1: bar on a terminal, lines elsewhere; 2: only the end-of-epoch line. */
  verbose: 1 | 2;
  output: ProgressOutput;
  /** Clock in milliseconds; injectable for tests. */
  now?: () => number;
}

/** One epoch's progress display. */
export class Progbar {
  readonly #target: number;
  readonly #options: ProgbarOptions;
  readonly #now: () => number;
  readonly #start: number;
  #lastDraw = -Infinity;
  #lastWidth = 0;
  #nextPlainStep: number;

  /** Starts timing an epoch of `target` steps. */
  constructor(target: number, options: ProgbarOptions) {
    this.#target = target;
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
    this.#nextPlainStep = Math.ceil(target / 10);
  }

  /** Reports that `current` steps are done, with running means of the metrics. */
  update(current: number, values: ReadonlyArray<[string, number]>): void {
    if (current >= this.#target) return; // `finish` draws the last line.
    const { verbose, output } = this.#options;
    if (verbose !== 1) return;
    const now = this.#now();
    const perStep = (now - this.#start) / 1000 / Math.max(current, 1);
    const eta = ` - ETA: ${formatEta(perStep * (this.#target - current))}`;
    if (output.isTTY) {
      // Keras redraws at most every 50 ms.
      if (now - this.#lastDraw < 50) return;
      this.#lastDraw = now;
      this.#redraw(formatBar(current, this.#target) + eta + formatLogs(values));
    } else if (current >= this.#nextPlainStep) {
      this.#nextPlainStep += Math.ceil(this.#target / 10);
      const digits = String(this.#target).length;
      output.write(
        `${String(current).padStart(digits)}/${this.#target}${eta}${
          formatLogs(values)
        }\n`,
      );
    }
  }

  /** Draws the epoch's final line, with validation metrics if any. */
  finish(values: ReadonlyArray<[string, number]>): void {
    const { verbose, output } = this.#options;
    const seconds = (this.#now() - this.#start) / 1000;
    const perStep = seconds / this.#target;
    const total = ` - ${seconds.toFixed(0)}s`;
    if (verbose === 1 && output.isTTY) {
      const line = formatBar(this.#target, this.#target) + total +
        formatStepTime(perStep, "step") + formatLogs(values);
      this.#redraw(line);
      output.write("\n");
    } else {
      output.write(
        `${this.#target}/${this.#target}${total}${formatLogs(values)} -` +
          `${formatStepTime(seconds, "epoch")} -${
            formatStepTime(perStep, "step")
          }\n`,
      );
    }
  }

  #redraw(line: string): void {
    const pad = Math.max(0, this.#lastWidth - line.length);
    this.#lastWidth = line.length;
    this.#options.output.write(`\r${line}${" ".repeat(pad)}`);
  }
}
