/** The day boundaries of dailyCounts: now's UTC day, the end of the last day ahead, the start of the first day behind. */
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
