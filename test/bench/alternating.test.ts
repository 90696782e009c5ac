import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

// bench/alternating.mjs: the C=1 rounds' table and target (issue 27), on made-up rounds.
interface Round {
  first: string;
  certmint: { p50_ms: number; cpuMsPerIssuance: number };
  stepCa: { p50_ms: number; cpuMsPerIssuance: number };
  p50Ratio: number | null;
}
interface Rounds {
  mode: string;
  n: number;
  rounds: Round[];
  medianP50Ratio: number | null;
  medianP50Ms: { certmint: number; stepCa: number };
}
interface Alternating {
  summarizeRounds(mode: string, n: number, rounds: Round[]): Rounds;
  alternatingTable(rows: Rounds[]): (string | number)[][];
  addAlternatingTargets(rows: Rounds[] | undefined, add: (name: string, target: string, value: number | null, pass: boolean, note?: string) => void): void;
}

const repo = path.resolve(import.meta.dirname, '../..');
// A computed specifier: the type checker does not read bench/*.mjs (see dist-imports.test.ts).
const alternating = (await import(pathToFileURL(path.join(repo, 'bench', 'alternating.mjs')).href)) as Alternating;

const round = (first: string, cm: number, sc: number): Round => ({ first, certmint: { p50_ms: cm, cpuMsPerIssuance: 11 }, stepCa: { p50_ms: sc, cpuMsPerIssuance: 14 }, p50Ratio: +(cm / sc).toFixed(2) });
const rows: Rounds[] = [alternating.summarizeRounds('pinned', 300, [round('certmint', 12, 20), round('step-ca', 12, 30), round('certmint', 13, 18)])];

describe('bench/alternating.mjs', () => {
  it('takes the median of the round ratios, not the ratio of the median p50s', () => {
    // Round ratios 0.6, 0.4, 0.72 → 0.6; the p50 medians (12 and 20) would also give 0.6, so a
    // fourth round tells them apart: ratios 0.4, 0.6, 0.72, 0.75 → 0.66; p50s 12, 12, 13, 15 over
    // 18, 20, 20, 30 → 12.5 ÷ 20 = 0.63.
    const four = alternating.summarizeRounds('unpinned', 300, [...rows[0]!.rounds, round('step-ca', 15, 20)]);
    expect(four.medianP50Ratio).toBe(0.66);
    expect(four.medianP50Ms).toEqual({ certmint: 12.5, stepCa: 20 });
    expect(alternating.summarizeRounds('unpinned', 300, []).medianP50Ratio).toBeNull();
  });

  it('prints each round with who went first, then the medians', () => {
    const table = alternating.alternatingTable(rows);
    expect(table).toHaveLength(1 + 3 + 1);
    expect(table[2]).toEqual(['pinned', 2, 'step-ca', 12, 30, 0.4, 11, 14]);
    expect(table[4]).toEqual(['pinned', 'median', '', 12, 20, 0.6, '', '']);
  });

  it('checks the C=1 target on the median of the round ratios and lists each round', () => {
    const added: { name: string; value: number | null; pass: boolean; note?: string }[] = [];
    alternating.addAlternatingTargets(rows, (name, _target, value, pass, note) => added.push({ name, value, pass, note }));
    expect(added).toEqual([{ name: 'pinned C=1 p50, certmint ÷ step-ca, median of 3 alternating rounds of 300', value: 0.6, pass: false, note: 'round ratios 0.6, 0.4, 0.72' }]);
    const none: unknown[] = [];
    alternating.addAlternatingTargets(undefined, (...a) => none.push(a));
    expect(none).toEqual([]);
  });
});
