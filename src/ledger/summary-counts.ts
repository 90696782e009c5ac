/** The day boundaries of summaryCounts: now's UTC day, the end of the last day ahead, the start of the first day behind. */
export function dailyWindow(now: Date, days: number): { today: number; end: number; start: number } {
  const today = Math.floor(now.getTime() / 86_400_000);
  return { today, end: (today + days) * 86_400_000, start: (today - days + 1) * 86_400_000 };
}

/** Rows of (day, n) as `days` counts from `first`. */
export function perDay(rows: readonly { day: number | string; n: number | string }[], first: number, days: number): number[] {
  const counts = new Array<number>(days).fill(0);
  for (const r of rows) {
    const i = Number(r.day) - first;
    if (i >= 0 && i < days) counts[i] = Number(r.n);
  }
  return counts;
}

/**
 * The parts of summaryCounts, each read in one snapshot: on SQLite by a worker thread, on
 * PostgreSQL by a connection. The expiries with the counts read from the same index; the
 * renewal-overdue count; the issuances of the older and of the recent half of the days, which
 * split the largest read so that the parts can be shared out evenly.
 */
export type SummaryPart = 'expiries' | 'overdue' | 'issuances-older' | 'issuances-recent';

/** The older half of the series' `days` is the first `olderDays(days)` of them. */
export const olderDays = (days: number): number => Math.floor(days / 2);

/**
 * Generations that may hold live certificates: those whose last certificate expires after now
 * (one index seek each), ascending. `rows`: each generation in the ledger and its last expiry.
 */
export function unexpiredGenerations(rows: readonly { generation: number; last: number | string | null }[], now: number): number[] {
  return rows
    .filter((r) => r.last !== null && Number(r.last) > now)
    .map((r) => r.generation)
    .sort((a, b) => a - b);
}

/**
 * Live (valid, unexpired) certificates per generation, as liveCertificatesByGeneration's GROUP BY
 * gives them, without counting the last of `generations` (unexpiredGenerations): it holds what
 * the others do not of `valid`, every valid unexpired certificate, which the expiries count
 * anyway. With one generation (the usual case) nothing is counted per generation; with several,
 * `counted` holds each but the last. Exact in the snapshot `valid` and `counted` were read in:
 * every certificate has one generation. Generations without any are left out.
 */
export function liveByGeneration(generations: readonly number[], counted: ReadonlyMap<number, number>, valid: number): Map<number, number> {
  const live = new Map<number, number>();
  let rest = valid;
  generations.forEach((generation, i) => {
    const n = i === generations.length - 1 ? rest : (counted.get(generation) ?? 0);
    rest -= n;
    if (n > 0) live.set(generation, n);
  });
  return live;
}
