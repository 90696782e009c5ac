/**
 * The Prometheus text exposition format (0.0.4) read the way a Prometheus server reads a scrape:
 * `# HELP` / `# TYPE` comments, then `name{label="value",…} value [timestamp]` lines. Written
 * here rather than taken from prom-client so the test reads the HTTP body, not our own registry.
 */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Scrape {
  readonly samples: readonly Sample[];
  /** Metric family name → counter, gauge, histogram, summary or untyped. */
  readonly types: ReadonlyMap<string, string>;
  /** The names of every sample line (histograms: name_bucket, name_sum, name_count). */
  readonly sampleNames: ReadonlySet<string>;
  /** The one sample of `name` whose labels include `labels`; throws when there is none or several. */
  value(name: string, labels?: Readonly<Record<string, string>>): number;
  /** Every sample of `name` whose labels include `labels`. */
  find(name: string, labels?: Readonly<Record<string, string>>): Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;

/** A sample value as Prometheus reads it (Go's ParseFloat: "NaN", "+Inf" in any letter case; prom-client writes "Nan"). */
function parseNumber(text: string, line: string): number {
  switch (text.toLowerCase()) {
    case '+inf':
    case 'inf':
      return Infinity;
    case '-inf':
      return -Infinity;
    case 'nan':
      return NaN;
  }
  const n = Number(text);
  if (text === '' || Number.isNaN(n)) throw new Error(`not a sample value: ${JSON.stringify(text)} in ${JSON.stringify(line)}`);
  return n;
}

/** `{a="x",b="y\"z"}` from position 0 of `text`; returns the labels and what follows the brace. */
function parseLabels(text: string, line: string): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1;
  const fail = (why: string) => new Error(`bad labels (${why}) in ${JSON.stringify(line)}`);
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const name = NAME.exec(text.slice(i))?.[0];
    if (!name) throw fail('label name');
    i += name.length;
    if (text[i] !== '=' || text[i + 1] !== '"') throw fail('expected ="');
    i += 2;
    let value = '';
    for (; i < text.length && text[i] !== '"'; i++) {
      if (text[i] === '\\') {
        const escaped = text[++i];
        value += escaped === 'n' ? '\n' : escaped === '\\' ? '\\' : escaped === '"' ? '"' : fail('escape');
      } else {
        value += text[i];
      }
    }
    if (text[i] !== '"') throw fail('unterminated value');
    if (name in labels) throw fail(`label ${name} twice`);
    labels[name] = value;
    i++;
  }
}

function includes(labels: Readonly<Record<string, string>>, wanted: Readonly<Record<string, string>>): boolean {
  return Object.entries(wanted).every(([k, v]) => labels[k] === v);
}

export function parsePrometheusText(body: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of body.split('\n')) {
    if (line.trim() === '') continue;
    if (line.startsWith('#')) {
      const m = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (m) {
        if (types.has(m[1]!)) throw new Error(`TYPE of ${m[1]} given twice`);
        types.set(m[1]!, m[2]!);
      } else if (!line.startsWith('# HELP ') && line.startsWith('# TYPE')) {
        throw new Error(`bad TYPE line: ${JSON.stringify(line)}`);
      }
      continue;
    }
    const name = NAME.exec(line)?.[0];
    if (!name) throw new Error(`no metric name in ${JSON.stringify(line)}`);
    let rest = line.slice(name.length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, line));
    const [value, timestamp, ...extra] = rest.trim().split(/\s+/);
    if (extra.length > 0 || (timestamp !== undefined && !/^-?[0-9]+$/.test(timestamp))) {
      throw new Error(`trailing text in ${JSON.stringify(line)}`);
    }
    samples.push({ name, labels, value: parseNumber(value ?? '', line) });
  }
  const find = (name: string, labels: Readonly<Record<string, string>> = {}) =>
    samples.filter((s) => s.name === name && includes(s.labels, labels));
  return {
    samples,
    types,
    sampleNames: new Set(samples.map((s) => s.name)),
    find,
    value(name, labels = {}) {
      const found = find(name, labels);
      if (found.length !== 1) {
        throw new Error(`${found.length} samples of ${name}${JSON.stringify(labels)}; have: ${samples.filter((s) => s.name === name).map((s) => JSON.stringify(s.labels)).join(' ') || 'none'}`);
      }
      return found[0]!.value;
    },
  };
}

/** The metric names a PromQL expression reads: what is left after strings, label matchers, ranges, grouping clauses, functions and keywords. */
export function promqlMetricNames(expr: string): string[] {
  const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$[A-Za-z_]\w*/g, ' ')
    .replace(/\boffset\s+\w+/g, ' ')
    .replace(/\b[0-9][0-9.e+]*[smhdwy]?\b/g, ' ');
  return [...stripped.matchAll(/([A-Za-z_:][A-Za-z0-9_:]*)\s*(\()?/g)]
    .filter((m) => m[2] === undefined && !KEYWORDS.has(m[1]!.toLowerCase()))
    .map((m) => m[1]!);
}
