/**
 * A strict parser of the Prometheus text exposition format (0.0.4) for the
 * tests: every line must be a comment, a `# HELP`, a `# TYPE` or a sample,
 * and the families must follow the format's rules (tokens are taken to be
 * separated by single spaces, as the service writes them). Throws an Error naming
 * the line on the first fault.
 */

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** One metric family: its TYPE, HELP and samples. */
export interface Family {
  type: string;
  help: string | undefined;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = ["counter", "gauge", "histogram", "summary", "untyped"];

/** A value as the format allows: a Go float, `+Inf`, `-Inf` or `NaN`. */
export function parseValue(text: string): number {
  if (text === "+Inf" || text === "Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
    throw new Error(`not a float: ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** Parses `{a="x",b="y\"z"}` from the start of `text`; returns the rest. */
function parseLabels(text: string): [Record<string, string>, string] {
  const labels: Record<string, string> = {};
  let rest = text.slice(1);
  while (!rest.startsWith("}")) {
    const name = LABEL_NAME.exec(rest)?.[0];
    if (name === undefined) throw new Error(`bad label name at ${rest}`);
    if (name in labels) throw new Error(`label ${name} twice`);
    rest = rest.slice(name.length);
    if (!rest.startsWith('="')) throw new Error(`no ="… after ${name}`);
    let value = "";
    let i = 2;
    for (;; i++) {
      const c = rest[i];
      if (c === undefined) throw new Error(`unterminated value of ${name}`);
      if (c === '"') break;
      if (c === "\n") throw new Error(`raw newline in ${name}`);
      if (c === "\\") {
        const next = rest[++i];
        if (next === "n") value += "\n";
        else if (next === "\\" || next === '"') value += next;
        else throw new Error(`bad escape \\${next} in ${name}`);
      } else value += c;
    }
    labels[name] = value;
    rest = rest.slice(i + 1);
    if (rest.startsWith(",")) rest = rest.slice(1);
    else if (!rest.startsWith("}")) {
      throw new Error(`expected , or } at ${rest}`);
    }
  }
  return [labels, rest.slice(1)];
}

function parseSample(line: string): Sample {
  const name = NAME.exec(line)?.[0];
  if (name === undefined) throw new Error("bad metric name");
  let rest = line.slice(name.length);
  let labels: Record<string, string> = {};
  if (rest.startsWith("{")) [labels, rest] = parseLabels(rest);
  // Stricter than the format, which allows runs of blanks and tabs: the
  // service writes single spaces, so anything else is a change to notice.
  const parts = rest.split(" ");
  if (
    parts[0] !== "" || parts.length < 2 || parts.length > 3 ||
    parts.slice(1).includes("")
  ) {
    throw new Error("expected one space, a value and maybe a timestamp");
  }
  if (parts[2] !== undefined && !/^-?\d+$/.test(parts[2])) {
    throw new Error(`bad timestamp ${parts[2]}`);
  }
  return { name, labels, value: parseValue(parts[1]!) };
}

/** The family a sample name belongs to, given the families typed so far. */
function familyOf(name: string, families: Map<string, Family>): string {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    const base = name.slice(0, -suffix.length);
    const type = families.get(base)?.type;
    if (!name.endsWith(suffix) || type === undefined) continue;
    if (type === "histogram") return base;
    if (type === "summary" && suffix !== "_bucket") return base;
  }
  return name;
}

function comment(line: string, families: Map<string, Family>): void {
  const m = /^# (HELP|TYPE) ([^ ]+)(?: (.*))?$/.exec(line);
  if (!m) return; // a plain comment
  const [, kind, name, text] = m;
  if (!NAME.test(name!) || NAME.exec(name!)![0] !== name) {
    throw new Error(`bad metric name ${name}`);
  }
  const family = families.get(name!) ??
    { type: "", help: undefined, samples: [] };
  if (family.samples.length > 0) throw new Error(`${kind} after samples`);
  if (kind === "TYPE") {
    if (family.type !== "") throw new Error(`second TYPE for ${name}`);
    if (!TYPES.includes(text ?? "")) throw new Error(`bad type ${text}`);
    family.type = text!;
  } else {
    if (family.help !== undefined) throw new Error(`second HELP for ${name}`);
    // Only \\ and \n are escapes in HELP text; any other backslash is wrong.
    if ((text ?? "").replace(/\\[\\n]/g, "").includes("\\")) {
      throw new Error("bad escape in HELP");
    }
    family.help = text ?? "";
  }
  families.set(name!, family);
}

/** Parses and checks a whole exposition; returns its families by name. */
export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith("\n")) throw new Error("the text must end with \\n");
  const families = new Map<string, Family>();
  let current: string | undefined;
  const done = new Set<string>();
  text.slice(0, -1).split("\n").forEach((line, i) => {
    try {
      if (line.startsWith("#")) return comment(line, families);
      if (line.trim() === "") throw new Error("blank line");
      const sample = parseSample(line);
      const name = familyOf(sample.name, families);
      const family = families.get(name);
      if (!family?.type) throw new Error(`no TYPE before ${name}`);
      // A family's samples are one block: no going back to a finished one.
      if (name !== current) {
        if (done.has(name)) throw new Error(`${name} is split in two`);
        if (current !== undefined) done.add(current);
        current = name;
      }
      family.samples.push(sample);
    } catch (error) {
      throw new Error(`line ${i + 1} ${JSON.stringify(line)}: ${error}`);
    }
  });
  for (const [name, family] of families) checkFamily(name, family);
  return families;
}

function seriesKey(labels: Record<string, string>, skip: string): string {
  return JSON.stringify(
    Object.entries(labels).filter(([k]) => k !== skip).sort(),
  );
}

function checkFamily(name: string, family: Family): void {
  const keys = new Set<string>();
  for (const s of family.samples) {
    const key = s.name + seriesKey(s.labels, "");
    if (keys.has(key)) throw new Error(`${key} appears twice`);
    keys.add(key);
  }
  if (family.type === "counter") {
    if (!name.endsWith("_total")) {
      throw new Error(`counter ${name} lacks _total`);
    }
    for (const s of family.samples) {
      if (!(s.value >= 0)) throw new Error(`${name} is ${s.value}`);
    }
  }
  if (family.type === "histogram") checkHistogram(name, family.samples);
}

function checkHistogram(name: string, samples: Sample[]): void {
  const series = new Map<string, Sample[]>();
  for (const s of samples.filter((s) => s.name === `${name}_bucket`)) {
    if (s.labels.le === undefined) throw new Error(`${name} bucket lacks le`);
    const key = seriesKey(s.labels, "le");
    series.set(key, [...series.get(key) ?? [], s]);
  }
  if (series.size === 0) throw new Error(`histogram ${name} has no buckets`);
  for (const [key, buckets] of series) {
    const les = buckets.map((b) => parseValue(b.labels.le!));
    les.forEach((le, i) => {
      if (i > 0 && !(le > les[i - 1]!)) {
        throw new Error(`${name} le not ascending`);
      }
      if (i > 0 && buckets[i]!.value < buckets[i - 1]!.value) {
        throw new Error(`${name} buckets not cumulative`);
      }
    });
    if (les.at(-1) !== Infinity) throw new Error(`${name} lacks le="+Inf"`);
    const find = (suffix: string) =>
      samples.find((s) =>
        s.name === name + suffix && seriesKey(s.labels, "") === key
      );
    const count = find("_count");
    if (find("_sum") === undefined || count === undefined) {
      throw new Error(`${name} lacks _sum or _count`);
    }
    if (count.value !== buckets.at(-1)!.value) {
      throw new Error(`${name}_count differs from its +Inf bucket`);
    }
  }
}
