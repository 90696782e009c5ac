const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** Parses "45d", "24h", "90s", "1500ms" or a bare number of milliseconds. */
export function parseDuration(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new Error(`invalid duration ${input}`);
    return input;
  }
  // The unit and the space before it are one optional group: two \s* around an optional unit split
  // a run of spaces every possible way, quadratic on "1" + many spaces + "x".
  const m = /^\s*(\d+(?:\.\d+)?)(?:\s*(ms|s|m|h|d))?\s*$/.exec(input);
  if (!m) throw new Error(`invalid duration "${input}" (use e.g. 45d, 24h, 30m, 10s)`);
  const ms = Math.round(Number(m[1]) * UNITS[m[2] ?? 'ms']!);
  // Enough digits overflow to Infinity, which no timer or date can use.
  if (!Number.isFinite(ms)) throw new Error(`invalid duration "${input}" (too long)`);
  return ms;
}
