import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { accountRecord, certificateRecord } from '../../../test/support/ledger-records.js';
import { SqliteLedger } from './ledger.js';
import { SUMMARY_WORKERS } from './metrics.js';

// summaryCounts' worker threads may be started ahead of their computation (prepareSummaryCounts):
// one that dies meanwhile (out of memory, a crash) must not leave the summary waiting forever.
const now = new Date('2026-06-01T00:00:00Z');
const DAY = 86_400_000;
let dir: string;
let ledger: SqliteLedger;

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'certmint-summary-readers-'));
  ledger = new SqliteLedger({ file: path.join(dir, 'ledger.sqlite3') });
  await ledger.createAccount(accountRecord('a1', 't1', now));
  await ledger.insertCertificate(certificateRecord('01', ['01.example.internal'], 3, now));
});

afterEach(async () => {
  await ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The threads started ahead (private to SqliteMetrics' readers: the test reaches in to kill one). */
const startedReaders = () =>
  (ledger as unknown as { metrics: { summaryReaders: { started: (Worker | undefined)[] } } }).metrics.summaryReaders.started;

it('a computation takes the readers started ahead; the next starts its own', async () => {
  ledger.prepareSummaryCounts();
  const started = [...startedReaders()];
  expect(started.filter(Boolean)).toHaveLength(SUMMARY_WORKERS.length);
  expect((await ledger.summaryCounts(now, 90, 7 * DAY)).expiries[3]).toBe(1);
  expect(startedReaders()).toEqual(started.map(() => undefined));
  expect((await ledger.summaryCounts(now, 90, 7 * DAY)).liveByGeneration).toEqual(new Map([[1, 1]]));
});

it('a reader that died while it waited is replaced', async () => {
  ledger.prepareSummaryCounts();
  const dead = startedReaders()[0]!;
  const exited = new Promise((resolve) => dead.once('exit', resolve));
  await dead.terminate();
  await exited;
  expect((await ledger.summaryCounts(now, 90, 7 * DAY)).expiries[3]).toBe(1);
});

it('a computation whose reader dies fails, and the next one answers', async () => {
  // Readers started for the computation (none ahead), caught as they start: killed while they boot.
  const readers = (ledger as unknown as { metrics: { summaryReaders: { spawn: () => Worker } } }).metrics.summaryReaders;
  const spawn = readers.spawn.bind(readers);
  const spawned: Worker[] = [];
  readers.spawn = () => {
    const w = spawn();
    spawned.push(w);
    return w;
  };
  const pending = ledger.summaryCounts(now, 90, 7 * DAY);
  await spawned[1]!.terminate();
  await expect(pending).rejects.toThrow(/summary counts reader exited/);
  expect((await ledger.summaryCounts(now, 90, 7 * DAY)).expiries[3]).toBe(1);
});
